using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EfCore.Shop;

/// <summary>
/// How EF Core's design-time tools (<c>dotnet ef migrations add</c>, <c>migrations script</c>) create the context.
/// They do not connect to generate a migration or a script, so a placeholder endpoint will do when DSQL_ENDPOINT is
/// not set.
/// </summary>
public sealed class ShopContextFactory : IDesignTimeDbContextFactory<ShopContext>
{
    public ShopContext CreateDbContext(string[] args)
    {
        string endpoint = Environment.GetEnvironmentVariable("DSQL_ENDPOINT") is { Length: > 0 } value
            ? value.Trim()
            : "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
        string region = Environment.GetEnvironmentVariable("DSQL_REGION") is { Length: > 0 } r ? $";Region={r.Trim()}" : "";
        return new ShopContext(new DbContextOptionsBuilder<ShopContext>().UseDsql($"Host={endpoint}{region}").Options);
    }
}
