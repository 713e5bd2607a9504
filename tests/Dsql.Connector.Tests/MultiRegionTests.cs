using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>
/// A connection string that lists the regional endpoints of a multi-Region cluster makes one data source over both:
/// each endpoint signs its tokens for its own host and Region, and both serve the same database.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class MultiRegionTests(BackendFixture backend)
{
    [Fact]
    public async Task One_data_source_per_Regional_endpoint_serves_a_multi_Region_cluster()
    {
        string westId = ConnectorHarness.UniqueClusterId();
        await using var harness = await ConnectorHarness.StartAsync(backend,
            options => options.Endpoints.Add(new EmulatorEndpoint($"{westId}.dsql.us-west-2.on.aws")));
        var east = harness.Emulator.Endpoints[0];
        var west = harness.Emulator.Endpoints[1];

        // Both endpoints in one Host, each with the port its tunnel (here: the emulator) listens on.
        var both = $"Host={east.Host}:{east.Port},{west.Host}:{west.Port};Preferred Region=us-west-2;Host Address=127.0.0.1;Root Certificate={east.CaCertificatePath}";
        await using var dataSource = new DsqlDataSourceBuilder(both)
            .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret))
            .UseTimeProvider(harness.Emulator.Clock)
            .Build();
        Assert.Equal(west.Host, dataSource.Endpoint);
        Assert.Equal("us-west-2", dataSource.Region);
        Assert.Collection(dataSource.Endpoints,
            e => { Assert.Equal(east.Host, e.Endpoint); Assert.Equal("us-east-1", e.Region); Assert.False(e.IsPreferred); },
            w => { Assert.Equal(west.Host, w.Endpoint); Assert.Equal("us-west-2", w.Region); Assert.True(w.IsPreferred); Assert.True(w.IsActive); });

        // The east endpoint alone (a data source of its own) reads what the pair wrote through the west one.
        await using var eastSource = harness.Build();
        string table = EmulatorConnections.UniqueName("regions");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id int PRIMARY KEY, region text)");
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES (1, 'us-west-2')");
        await using (var connection = await eastSource.OpenConnectionAsync())
        {
            var written = await new NpgsqlCommand($"SELECT region FROM {table} WHERE id = 1", connection).ExecuteScalarAsync();
            Assert.Equal("us-west-2", written);
            await new NpgsqlCommand($"DROP TABLE {table}", connection).ExecuteNonQueryAsync();
        }
    }
}
