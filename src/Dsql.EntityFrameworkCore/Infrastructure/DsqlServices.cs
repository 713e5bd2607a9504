using Microsoft.Extensions.DependencyInjection;

namespace Dsql.EntityFrameworkCore.Infrastructure;

/// <summary>
/// The provider services DSQL replaces, in one place. Each area adds its replacements here with
/// <c>ServiceCollectionDescriptorExtensions.Replace</c> (Npgsql's services are registered before these run).
/// </summary>
internal static class DsqlServices
{
    public static void Add(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Transactions and execution strategy: see Storage/ (added by the runtime work).
        // Migrations, history repository and lock, database creator, model validation: see Migrations/.
    }
}
