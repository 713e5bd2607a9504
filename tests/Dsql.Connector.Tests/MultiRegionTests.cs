using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>
/// What the refusal of several hosts tells users to do for a multi-Region cluster works: one data source per
/// Regional endpoint, each signing for its own endpoint and Region, both serving the same database.
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

        var both = $"Host={east.Host},{west.Host};Host Address=127.0.0.1;Root Certificate={east.CaCertificatePath}";
        var refusal = Assert.Throws<DsqlConfigurationException>(() => new DsqlDataSourceBuilder(both));
        Assert.Contains("one DsqlDataSource per Regional endpoint", refusal.Message, StringComparison.Ordinal);

        await using var eastSource = harness.Build();
        // The west endpoint named by its cluster id and Region: the data source derives the endpoint when it is built.
        await using var westSource = new DsqlDataSourceBuilder(
                $"Host={westId};Region=us-west-2;Host Address=127.0.0.1;Port={west.Port};Root Certificate={west.CaCertificatePath}")
            .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret))
            .UseTimeProvider(harness.Emulator.Clock)
            .Build();
        Assert.Equal(west.Host, westSource.Endpoint);
        Assert.Equal("us-west-2", westSource.Region);

        string table = EmulatorConnections.UniqueName("regions");
        await using (var connection = await eastSource.OpenConnectionAsync())
        {
            await new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY, region text)", connection).ExecuteNonQueryAsync();
            await new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 'us-east-1')", connection).ExecuteNonQueryAsync();
        }

        await using (var connection = await westSource.OpenConnectionAsync())
        {
            var written = await new NpgsqlCommand($"SELECT region FROM {table} WHERE id = 1", connection).ExecuteScalarAsync();
            Assert.Equal("us-east-1", written);
            await new NpgsqlCommand($"DROP TABLE {table}", connection).ExecuteNonQueryAsync();
        }
    }
}
