using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;

namespace Dsql.Sync.Tests;

[Collection(BackendCollection.Name)]
public sealed class SkeletonTests(BackendFixture backend)
{
    [Fact]
    public async Task The_test_harness_reaches_an_emulator_through_the_connector()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 6 * 7";
        Assert.Equal(42, (int)(await command.ExecuteScalarAsync())!);
        Assert.Equal("Dsql.Sync", SyncInfo.TelemetryName);
    }
}
