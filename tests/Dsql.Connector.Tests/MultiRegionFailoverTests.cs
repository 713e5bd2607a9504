using System.Collections.Concurrent;
using System.Diagnostics;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace Dsql.Connector.Tests;

/// <summary>
/// Continuous work on a data source over two emulator endpoints (one backend) while the preferred endpoint becomes
/// unavailable the way DSQL's can (emulator faults, per endpoint): no idempotent operation fails, every row is written
/// once, opens move to the peer, and come back once the preferred endpoint recovers, without flapping.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class MultiRegionFailoverTests(BackendFixture backend, ITestOutputHelper output)
{
    private const int Workers = 4;

    private sealed class Work(DsqlDataSource dataSource, string table, int westPort)
    {
        private long _next;
        public int Failed;
        public int Ambiguous;
        public int OnPeer;
        public readonly ConcurrentBag<string> Errors = new();
        public readonly ConcurrentBag<double> SlowestMs = new();
        public long Written => Interlocked.Read(ref _next);

        /// <summary>Idempotent inserts of unique ids, each retried by the caller when its commit is ambiguous, until <paramref name="stop"/>.</summary>
        public async Task RunAsync(CancellationToken stop)
        {
            double slowest = 0;
            while (!stop.IsCancellationRequested)
            {
                long id = Interlocked.Increment(ref _next);
                var started = Stopwatch.GetTimestamp();
                while (true)
                {
                    try
                    {
                        await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
                        {
                            await using var command = new NpgsqlCommand($"INSERT INTO {table} (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", connection);
                            command.Parameters.Add(new NpgsqlParameter { Value = id });
                            await command.ExecuteNonQueryAsync(token);
                            if (connection.Port == westPort) Interlocked.Increment(ref OnPeer);
                        });
                        break;
                    }
                    catch (DsqlAmbiguousCommitException)
                    {
                        Interlocked.Increment(ref Ambiguous); // the insert is idempotent: run it again
                    }
                    catch (Exception ex)
                    {
                        Interlocked.Increment(ref Failed);
                        Errors.Add(ex.GetType().Name + ": " + ex.Message);
                        break;
                    }
                }
                slowest = Math.Max(slowest, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            SlowestMs.Add(slowest);
        }
    }

    [Theory]
    [InlineData(EndpointOutage.RefuseConnects)]
    [InlineData(EndpointOutage.CutSessions)]
    [InlineData(EndpointOutage.DropSessions)]
    [InlineData(EndpointOutage.ServerUnavailable)]
    public async Task Work_goes_on_when_the_preferred_endpoint_becomes_unavailable_and_comes_back_after_it_recovers(EndpointOutage outage)
    {
        await using var harness = await ConnectorHarness.StartTwoRegionsAsync(backend);
        var (east, west) = (harness.Endpoint, harness.Peer);
        await using var dataSource = harness.TwoRegionBuilder()
            .PreferRegion("us-east-1")
            .ConfigureFailover(o => { o.ProbeInterval = TimeSpan.FromMilliseconds(200); o.RecoveryProbes = 2; o.FailbackDelay = TimeSpan.FromSeconds(1); })
            .Build();
        string table = EmulatorConnections.UniqueName("outage");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id bigint PRIMARY KEY)");
        var work = new Work(dataSource, table, west.Port);
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(() => work.RunAsync(stop.Token))).ToArray();
        var eastFaults = harness.Emulator.Faults.ForEndpoint(east.Host);

        await ConnectorHarness.WaitForAsync(() => work.Written > 100, "work on the preferred endpoint");
        Assert.Equal(0, work.OnPeer);
        eastFaults.Unavailable(outage);
        // A mode that refuses only new connects leaves open sessions serving: closing them makes the pool connect again.
        if (outage == EndpointOutage.RefuseConnects) harness.Emulator.Faults.CloseAllSessions();
        long atOutage = work.Written;
        await ConnectorHarness.WaitForAsync(() => work.OnPeer > 50, "work on the peer");
        Assert.Equal(west.Host, dataSource.Endpoint);
        Assert.False(Assert.Single(dataSource.Endpoints, e => e.Endpoint == east.Host).IsHealthy);

        eastFaults.Available();
        await ConnectorHarness.WaitForAsync(() => dataSource.Endpoint == east.Host, "failback to the preferred endpoint");
        long atFailback = work.Written;
        await ConnectorHarness.WaitForAsync(() => work.Written > atFailback + 100, "work after failback");
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        output.WriteLine($"{outage}: {work.Written} operations, {atOutage} before the outage, {work.OnPeer} on the peer, {work.Ambiguous} ambiguous commits run again, slowest operation {work.SlowestMs.Max():F0} ms");
        Assert.True(work.Failed == 0, string.Join(Environment.NewLine, work.Errors.Take(5)));
        await using (var reader = harness.Build())
        await using (var connection = await reader.OpenConnectionAsync())
        {
            // Every id handed out was written by an operation that returned: once each (the key refuses doubles).
            Assert.Equal(work.Written, (long)(await new NpgsqlCommand($"SELECT count(*) FROM {table}", connection).ExecuteScalarAsync())!);
        }
        var routing = harness.Logs.Lines.Where(l => l.Contains("DSQL routing: opens move", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, routing.Count); // away once, back once
    }

    [Fact]
    public async Task An_endpoint_that_fails_now_and_then_does_not_pull_opens_back_and_forth()
    {
        await using var harness = await ConnectorHarness.StartTwoRegionsAsync(backend);
        var (east, west) = (harness.Endpoint, harness.Peer);
        await using var dataSource = harness.TwoRegionBuilder()
            .ConfigureFailover(o => { o.ProbeInterval = TimeSpan.FromMilliseconds(100); o.FailbackDelay = TimeSpan.FromSeconds(5); })
            .Build();
        string table = EmulatorConnections.UniqueName("flaky");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id bigint PRIMARY KEY)");
        var work = new Work(dataSource, table, west.Port);
        using var stop = new CancellationTokenSource();
        var eastFaults = harness.Emulator.Faults.ForEndpoint(east.Host);
        eastFaults.FailFraction(0.3, seed: 15);
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(() => work.RunAsync(stop.Token))).ToArray();

        await ConnectorHarness.WaitForAsync(() => work.Written > 300, "work while the preferred endpoint fails now and then");
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        output.WriteLine($"{work.Written} operations, {work.OnPeer} on the peer, {work.Ambiguous} ambiguous commits run again, slowest {work.SlowestMs.Max():F0} ms");
        Assert.True(work.Failed == 0, string.Join(Environment.NewLine, work.Errors.Take(5)));
        var routing = harness.Logs.Lines.Count(l => l.Contains("DSQL routing: opens move", StringComparison.Ordinal));
        Assert.InRange(routing, 0, 1); // at most once away; back only after 5 s of clean probes, which a 30% failure rate denies
    }
    [Fact]
    public async Task Disposing_the_data_source_while_a_probe_of_an_unavailable_endpoint_is_in_flight_throws_nothing()
    {
        await using var harness = await ConnectorHarness.StartTwoRegionsAsync(backend);
        var (east, west) = (harness.Endpoint, harness.Peer);
        var eastFaults = harness.Emulator.Faults.ForEndpoint(east.Host);
        for (int round = 0; round < 3; round++)
        {
            eastFaults.Unavailable(EndpointOutage.ServerUnavailable);
            var dataSource = harness.TwoRegionBuilder()
                .ConfigureFailover(o => { o.FailureThreshold = 1; o.ProbeInterval = TimeSpan.FromMilliseconds(100); })
                .Build();
            try
            {
                await dataSource.ExecuteNonQueryAsync("SELECT 1");
                Assert.Equal(west.Host, dataSource.Endpoint); // east failed once: unhealthy, and probed from now on
                // The next probe connects and is never answered: the dispose cancels it in the middle of its open.
                eastFaults.Unavailable(EndpointOutage.StallConnects);
                await Task.Delay(250 + 40 * round);
                Assert.False(dataSource.Endpoints[0].IsHealthy);
            }
            finally
            {
                await dataSource.DisposeAsync(); // must not throw what the cancelled probe met
            }
        }
    }
}
