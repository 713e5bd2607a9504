using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Dsql.Emulator;
using Dsql.Emulator.Backend;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// Multi-Region clusters (issue 15, "Speed"): a data source over two emulator endpoints (one backend) under
/// continuous transactions while the preferred endpoint becomes unavailable in each of DSQL's ways, measuring the time
/// from the outage to the first transaction committed on the peer, the operations that failed, the slowest operation,
/// and the time back after recovery; then the steady-state cost of routing on a pooled rent against a single-endpoint
/// data source, interleaved.
/// </summary>
internal static class RegionsScenario
{
    public const double FailoverTargetSeconds = 2.0;
    public const double RentTarget = 1.02;
    private const int Workers = 8;

    private sealed record Outcome(EndpointOutage Outage, double FirstOnPeerSeconds, int Failed, int Ambiguous, long Operations, double SlowestMs, double P99Ms, double FailbackSeconds);

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        var result = new ScenarioResult
        {
            Id = "regions",
            Title = "Multi-Region: failover, failback and the cost of routing",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"An in-process emulator with two endpoints (us-east-1 preferred, us-west-2) over one PostgreSQL; a `DsqlDataSource` over both with the default `DsqlFailoverOptions`. ") +
                $"{Workers} workers run one-row idempotent INSERT transactions (`ExecuteInTransactionAsync`) back to back; an ambiguous commit is run again by the worker (the insert is idempotent) and counted, any other exception counts as a failed operation. " +
                "For each outage mode, the preferred endpoint is made unavailable (`EmulatorFaults.ForEndpoint(...).Unavailable(mode)`; for the connect-only modes every open session is also closed, so the pool must connect again), " +
                "and the time to the first transaction that commits on the peer is measured, with the slowest operation and the p99 of those that started within 5 s of the outage; then the endpoint is made available and the time until opens go back to it is measured (default failback delay 10 s, three probes). " +
                "Rent: a pooled rent + `SELECT 1` through a data source over both endpoints against one over the preferred endpoint alone, interleaved rounds; " +
                "then the same for an EF Core SaveChanges of one entity through `UseDsql` (a new context each), whose connection checks its endpoint at each open.",
        };
        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { MaxConnections = 200 });
        string westId = LabEndpoint.UniqueClusterId();
        await using var emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions
        {
            BackendConnectionString = cluster.ConnectionString,
            ConnectionRatePerSecond = 1_000_000,
            ConnectionBurst = 1_000_000,
            Endpoints = { new EmulatorEndpoint($"{LabEndpoint.UniqueClusterId()}.dsql.us-east-1.on.aws"), new EmulatorEndpoint($"{westId}.dsql.us-west-2.on.aws") },
        });
        var (east, west) = (emulator.Endpoints[0], emulator.Endpoints[1]);
        string connectionString = string.Create(CultureInfo.InvariantCulture, $"Host={east.Host};Host Address=127.0.0.1;Port={east.Port};Root Certificate={east.CaCertificatePath};Maximum Pool Size=32");
        DsqlDataSourceBuilder Builder() => new DsqlDataSourceBuilder(connectionString).UseCredentials(LabEndpoint.Credentials);
        DsqlDataSource Both() => Builder()
            .AddEndpoint(west.Host, s => { s.HostAddress = "127.0.0.1"; s.Port = west.Port; s.RootCertificate = west.CaCertificatePath; })
            .PreferRegion("us-east-1")
            .Build();

        var outcomes = new List<Outcome>();
        EndpointOutage[] modes = settings.Quick
            ? [EndpointOutage.RefuseConnects, EndpointOutage.CutSessions, EndpointOutage.ServerUnavailable]
            : [EndpointOutage.RefuseConnects, EndpointOutage.ResetConnects, EndpointOutage.CutSessions, EndpointOutage.DropSessions, EndpointOutage.ServerUnavailable];
        foreach (var mode in modes)
        {
            settings.Log($"regions: outage {mode}");
            await using var dataSource = Both();
            outcomes.Add(await OutageAsync(emulator, dataSource, mode, east.Host, west.Port));
        }
        foreach (var o in outcomes)
        {
            result.Comparisons.Add(Comparison.Checked($"time from the preferred endpoint going unavailable ({o.Outage}) to the first commit on the peer", "target", FailoverTargetSeconds,
                "measured", o.FirstOnPeerSeconds, "s", $"< {FailoverTargetSeconds:0.#} s", o.FirstOnPeerSeconds < FailoverTargetSeconds));
            result.Comparisons.Add(Comparison.Checked($"operations failed during the switch ({o.Outage})", "target", 0, "failed", o.Failed, "operations", "0", o.Failed == 0));
        }
        result.Details.Add(new DetailTable("Outages (one run each)",
            ["outage", "first commit on the peer (s)", "operations", "failed", "ambiguous commits run again", "slowest operation (ms)", "p99 of operations started within 5 s (ms)", "back to the preferred endpoint after recovery (s)"],
            outcomes.Select(o => (IReadOnlyList<string>)
            [
                o.Outage.ToString(), o.FirstOnPeerSeconds.ToString("0.000", CultureInfo.InvariantCulture), o.Operations.ToString("#,0", CultureInfo.InvariantCulture),
                o.Failed.ToString(CultureInfo.InvariantCulture), o.Ambiguous.ToString(CultureInfo.InvariantCulture), o.SlowestMs.ToString("0", CultureInfo.InvariantCulture),
                o.P99Ms.ToString("0", CultureInfo.InvariantCulture), o.FailbackSeconds.ToString("0.0", CultureInfo.InvariantCulture),
            ]).ToList()));

        settings.Log("regions: rent, one endpoint against two");
        await using (var single = Builder().Build())
        await using (var both = Both())
        {
            async Task Rent(DsqlDataSource source)
            {
                await using var connection = await source.OpenConnectionAsync();
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync();
            }
            var rounds = await Interleaved.RunAsync([("single", () => Rent(single)), ("both", () => Rent(both))], operationsPerBlock: 100, rounds: settings.Quick ? 40 : 150, warmupRounds: 5);
            var (ratio, low, high) = rounds.Ratio("single", "both");
            result.Comparisons.Add(Comparison.RatioAtMost(string.Create(CultureInfo.InvariantCulture, $"time per pooled rent + SELECT 1, two endpoints against one (interleaved; IQR of the ratio {low:0.000}-{high:0.000})"),
                "one endpoint", rounds.Median("single"), "two endpoints", rounds.Median("both"), "µs", RentTarget, ratio));

            // EF Core's connection checks at each open whether its endpoint is still the one opens go to.
            settings.Log("regions: EF Core SaveChanges, one endpoint against two");
            await single.ExecuteNonQueryAsync("DROP TABLE IF EXISTS lab_items");
            await single.ExecuteNonQueryAsync("CREATE TABLE lab_items (id uuid PRIMARY KEY, name text NOT NULL, quantity int NOT NULL)");
            var singleOptions = new DbContextOptionsBuilder<EfCoreScenario.LabContext>().UseDsql(single).Options;
            var bothOptions = new DbContextOptionsBuilder<EfCoreScenario.LabContext>().UseDsql(both).Options;
            async Task Save(DbContextOptions<EfCoreScenario.LabContext> options)
            {
                await using var context = new EfCoreScenario.LabContext(options);
                context.Items.Add(new EfCoreScenario.LabItem { Id = Guid.NewGuid(), Name = "item", Quantity = 1 });
                await context.SaveChangesAsync();
            }
            var saves = await Interleaved.RunAsync([("single", () => Save(singleOptions)), ("both", () => Save(bothOptions))], operationsPerBlock: 20, rounds: settings.Quick ? 80 : 200, warmupRounds: 5);
            var (efRatio, efLow, efHigh) = saves.Ratio("single", "both");
            // Reported, not judged: the issue's target is the pooled rent's; a SaveChanges varies far more than 2 % here.
            result.Comparisons.Add(Comparison.Informative(string.Create(CultureInfo.InvariantCulture, $"time per EF Core SaveChanges of one entity (new context each), two endpoints against one (interleaved; ratio {efRatio:0.000}, IQR {efLow:0.000}-{efHigh:0.000})"),
                "one endpoint", saves.Median("single"), "two endpoints", saves.Median("both"), "µs"));
        }
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"Machine load while it ran: {File.ReadAllText("/proc/loadavg").Trim()} (1, 5, 15-minute load averages; 2 cores here)."));
        return result;
    }

    private static async Task<Outcome> OutageAsync(DsqlEmulator emulator, DsqlDataSource dataSource, EndpointOutage mode, string eastHost, int westPort)
    {
        string table = "regions_" + mode.ToString().ToLowerInvariant();
        await dataSource.ExecuteNonQueryAsync($"DROP TABLE IF EXISTS {table}");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id bigint PRIMARY KEY)");
        long next = 0, outageAt = 0, firstOnPeer = 0;
        int failed = 0, ambiguous = 0;
        var latencies = new ConcurrentBag<(long Started, double Ms)>();
        using var stop = new CancellationTokenSource();
        async Task Worker()
        {
            while (!stop.IsCancellationRequested)
            {
                long id = Interlocked.Increment(ref next);
                long started = Stopwatch.GetTimestamp();
                while (true)
                {
                    try
                    {
                        await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
                        {
                            await using var command = new NpgsqlCommand($"INSERT INTO {table} (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", connection);
                            command.Parameters.Add(new NpgsqlParameter { Value = id });
                            await command.ExecuteNonQueryAsync(token);
                            if (connection.Port == westPort && Interlocked.Read(ref outageAt) != 0) Interlocked.CompareExchange(ref firstOnPeer, -1, 0);
                        });
                        if (Interlocked.Read(ref firstOnPeer) == -1) Interlocked.CompareExchange(ref firstOnPeer, Stopwatch.GetTimestamp(), -1);
                        break;
                    }
                    catch (DsqlAmbiguousCommitException)
                    {
                        Interlocked.Increment(ref ambiguous);
                    }
                    catch (Exception)
                    {
                        Interlocked.Increment(ref failed);
                        break;
                    }
                }
                latencies.Add((started, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
            }
        }
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(Worker)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(2));
        var faults = emulator.Faults.ForEndpoint(eastHost);
        Interlocked.Exchange(ref outageAt, Stopwatch.GetTimestamp());
        faults.Unavailable(mode);
        if (mode is EndpointOutage.RefuseConnects or EndpointOutage.ResetConnects or EndpointOutage.StallConnects) emulator.Faults.CloseAllSessions();
        var waited = Stopwatch.StartNew();
        while (Interlocked.Read(ref firstOnPeer) <= 0 && waited.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(5);
        long peerAt = Interlocked.Read(ref firstOnPeer);
        await Task.Delay(TimeSpan.FromSeconds(3));
        faults.Available();
        var recovery = Stopwatch.StartNew();
        while (dataSource.Endpoint != eastHost && recovery.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(20);
        double failback = recovery.Elapsed.TotalSeconds;
        await Task.Delay(TimeSpan.FromSeconds(1));
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        long at = Interlocked.Read(ref outageAt);
        long window = at + (long)(5 * Stopwatch.Frequency);
        var during = latencies.Where(l => l.Started >= at - (long)(0.5 * Stopwatch.Frequency) && l.Started <= window).Select(l => l.Ms).Order().ToList();
        return new Outcome(mode, peerAt > 0 ? Stopwatch.GetElapsedTime(at, peerAt).TotalSeconds : double.NaN, failed, ambiguous, Interlocked.Read(ref next),
            latencies.Max(l => l.Ms), during.Count == 0 ? double.NaN : Stats.Percentile(during, 0.99), failback);
    }
}
