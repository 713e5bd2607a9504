using System.Net;
using System.Net.Sockets;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>
/// One data source over two regional endpoints of the emulator (one backend: one multi-Region cluster): opens go to
/// the preferred endpoint, writes through one are read through the other, and an endpoint that refuses connections
/// is skipped at once, marked unhealthy and reported.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class MultiRegionRoutingTests(BackendFixture backend)
{
    private static async Task<(ConnectorHarness Harness, EmulatorEndpointInfo East, EmulatorEndpointInfo West)> TwoRegionsAsync(BackendFixture backend)
    {
        var harness = await ConnectorHarness.StartTwoRegionsAsync(backend);
        return (harness, harness.Endpoint, harness.Peer);
    }

    [Fact]
    public async Task Opens_go_to_the_preferred_endpoint_and_what_one_writes_the_other_reads()
    {
        var (harness, east, west) = await TwoRegionsAsync(backend);
        await using var _ = harness;
        await using var both = harness.TwoRegionBuilder().PreferRegion("us-west-2").Build();
        await using var eastOnly = harness.Build();
        string table = EmulatorConnections.UniqueName("regions");

        Assert.Equal(west.Host, both.Endpoint);
        Assert.Equal("us-west-2", both.Region);
        Assert.Equal(west.Host, both.PreferredEndpoint);
        Assert.Collection(both.Endpoints,
            e => { Assert.Equal(east.Host, e.Endpoint); Assert.False(e.IsPreferred); Assert.False(e.IsActive); Assert.True(e.IsHealthy); },
            w => { Assert.Equal(west.Host, w.Endpoint); Assert.Equal("us-west-2", w.Region); Assert.True(w.IsPreferred); Assert.True(w.IsActive); });
        await both.ExecuteNonQueryAsync($"CREATE TABLE {table} (id int PRIMARY KEY, region text)");
        await both.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES (1, 'written through us-west-2')");

        await using var connection = await eastOnly.OpenConnectionAsync();
        Assert.Equal("written through us-west-2", await new NpgsqlCommand($"SELECT region FROM {table} WHERE id = 1", connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_preferred_endpoint_that_refuses_connects_fails_no_transaction_and_is_marked_unhealthy_with_one_routing_change()
    {
        var (harness, east, _) = await TwoRegionsAsync(backend);
        await using var __ = harness;
        string deadHost = $"{ConnectorHarness.UniqueClusterId()}.dsql.eu-west-1.on.aws";
        int closed = ConnectorHarness.ClosedPort();
        await using var dataSource = harness.Builder()
            .AddEndpoint(deadHost, s => { s.HostAddress = "127.0.0.1"; s.Port = closed; s.RootCertificate = east.CaCertificatePath; })
            .PreferRegion("eu-west-1")
            .ConfigureFailover(o => o.FailureThreshold = 2)
            .Build();
        string table = EmulatorConnections.UniqueName("failover");
        Assert.Equal(deadHost, dataSource.Endpoint);

        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id int PRIMARY KEY)");
        int failed = 0;
        for (int i = 0; i < 20; i++)
        {
            try
            {
                await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES ({i})");
            }
            catch (Exception)
            {
                failed++;
            }
        }

        Assert.Equal(0, failed);
        await using var reader = harness.Build();
        await using (var connection = await reader.OpenConnectionAsync())
            Assert.Equal(20L, await new NpgsqlCommand($"SELECT count(*) FROM {table}", connection).ExecuteScalarAsync());
        var dead = Assert.Single(dataSource.Endpoints, e => e.Endpoint == deadHost);
        Assert.False(dead.IsHealthy);
        Assert.False(dead.IsActive);
        Assert.True(dead.IsPreferred);
        Assert.Equal("network", dead.LastFailure);
        Assert.Equal(east.Host, dataSource.Endpoint);
        Assert.Single(harness.Logs.Lines, l => l.Contains("routing: opens move from " + deadHost, StringComparison.Ordinal));
    }
    /// <summary>The delay (ms) each logged transaction retry after a lost connection waited, in order.</summary>
    private static List<string> RetryDelays(IEnumerable<string> lines)
        => lines.Where(l => l.Contains("on a fresh connection in", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"on a fresh connection in (\d+) ms").Groups[1].Value)
            .ToList();

    [Fact]
    public async Task The_first_move_to_the_peer_after_a_Region_failure_is_not_delayed_and_a_second_one_backs_off()
    {
        var (harness, east, west) = await TwoRegionsAsync(backend);
        await using var _ = harness;
        await using var dataSource = harness.TwoRegionBuilder().Build();
        string table = EmulatorConnections.UniqueName("nodelay");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id int PRIMARY KEY)");
        var options = new DsqlTransactionOptions { BaseDelay = TimeSpan.FromSeconds(1), UseJitter = false };

        // Every statement on the preferred endpoint answers XX000 server unavailable: one failover, at once.
        harness.Emulator.Faults.ForEndpoint(east.Host).Unavailable(EndpointOutage.ServerUnavailable);
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES (1)", options: options);
        Assert.Equal(["0"], RetryDelays(harness.Logs.Lines));

        // Both endpoints failing: the run's second move (back to the first endpoint) waits for the backoff.
        harness.Emulator.Faults.ForEndpoint(west.Host).Unavailable(EndpointOutage.ServerUnavailable);
        int seen = harness.Logs.Lines.Count;
        var twoRetries = new DsqlTransactionOptions { BaseDelay = TimeSpan.FromSeconds(1), UseJitter = false, MaxRetries = 2 };
        await Assert.ThrowsAnyAsync<Exception>(() => dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES (2)", options: twoRetries));
        Assert.Equal(["0", "2000"], RetryDelays(harness.Logs.Lines.Skip(seen)));
    }
    [Fact]
    public async Task A_failed_attempt_is_counted_under_its_endpoint_and_the_call_under_the_endpoint_that_ended_it()
    {
        var (harness, east, west) = await TwoRegionsAsync(backend);
        await using var _ = harness;
        // One failure makes the preferred endpoint unhealthy: routing has moved on by the time the retry is counted.
        await using var dataSource = harness.TwoRegionBuilder().ConfigureFailover(o => o.FailureThreshold = 1).Build();
        string table = EmulatorConnections.UniqueName("attributed");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id int PRIMARY KEY)");
        using var onEast = new TelemetryCollector(east.Host);
        using var onWest = new TelemetryCollector(west.Host);

        harness.Emulator.Faults.ForEndpoint(east.Host).Unavailable(EndpointOutage.ServerUnavailable);
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES (1)");

        Assert.Equal(west.Host, dataSource.Endpoint);
        Assert.Equal(1, onEast.Sum("dsql.transaction.retries"));
        Assert.Equal(0, onWest.Sum("dsql.transaction.retries"));
        var ended = Assert.Single(onWest.Of("dsql.transaction.duration"));
        Assert.Equal("committed", ended.Tags["outcome"]);
        Assert.Empty(onEast.Of("dsql.transaction.duration"));
    }
}
