using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Dsql.EntityFrameworkCore.Tests;

[Collection(BackendCollection.Name)]
public sealed class UseDsqlTests(BackendFixture backend)
{
    [Fact]
    public async Task A_context_on_UseDsql_queries_through_the_data_source()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        var options = new DbContextOptionsBuilder<DbContext>().UseDsql(dataSource).Options;
        await using var context = new DbContext(options);

        int answer = await context.Database.SqlQueryRaw<int>("SELECT 41 + 1 AS \"Value\"").SingleAsync();

        Assert.Equal(42, answer);
        Assert.Equal("Npgsql.EntityFrameworkCore.PostgreSQL", context.Database.ProviderName);
    }
}
