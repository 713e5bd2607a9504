using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// Continuous mixed work for a long time with DSQL's cuts compressed: the emulator closes every session after 3 s and
/// tokens are signed for 3 s, so connections are replaced and tokens re-signed thousands of times. Every operation must
/// succeed, and the process's memory must stay flat: not grow with the number of reconnects.
/// </summary>
internal static class SoakScenario
{
    public const double MemoryGrowthTarget = 1.10;
    private const int PooledWorkers = 6;
    private const int HotRows = 32;

    /// <summary>One memory sample.</summary>
    internal sealed record Sample(double Seconds, long ManagedBytes, long WorkingSetBytes, long EmulatorWorkingSetBytes, long Reconnects, long TokensSigned, long Operations);

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        var duration = settings.SoakDuration;
        var sampleEvery = TimeSpan.FromSeconds(Math.Max(1, duration.TotalSeconds / 60));
        var result = new ScenarioResult
        {
            Id = "soak",
            Title = "Soak: continuous work across connection cuts and token expiry",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"{duration.TotalSeconds:0} s of continuous mixed work against an emulator that closes every session after 3 s: {PooledWorkers} workers on a pooled `DsqlDataSource` ") +
                "(`Connection Lifetime=1`, `Token Lifetime=3`, 8 connections) doing point reads, 100-row reads, retried increments of 32 hot rows (conflicts included) and upserts, " +
                "and one worker opening and closing a single connection (`Pooling=false`) every 50 ms. Memory is sampled " +
                string.Create(CultureInfo.InvariantCulture, $"every {sampleEvery.TotalSeconds:0} s after a full collection; ") +
                "flat means the median of the last third of the samples is within 10% of the median of the first third, warm-up (the first fifth) left out.",
        };

        await using var lab = await LabEndpoint.StartAsync("--max-connection-age", "3");
        await using var pooled = lab.Connector("Connection Lifetime=1;Token Lifetime=3;Maximum Pool Size=8");
        await using var single = lab.Connector("Pooling=false;Token Lifetime=3");
        await pooled.ExecuteNonQueryAsync("CREATE TABLE soak_rows (id int PRIMARY KEY, n bigint NOT NULL)");
        await pooled.ExecuteNonQueryAsync("CREATE TABLE soak_log (id int PRIMARY KEY, payload text NOT NULL, at timestamptz NOT NULL)");
        await pooled.ExecuteNonQueryAsync("INSERT INTO soak_rows SELECT g, 0 FROM generate_series(1, 100) g");

        using var counters = new ConnectorCounters();
        var failures = new ConcurrentDictionary<string, int>();
        var firstFailures = new ConcurrentQueue<string>();
        long operations = 0, increments = 0;
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();

        void Fail(Exception ex)
        {
            string kind = ex is PostgresException pg ? $"{ex.GetType().Name} {pg.SqlState}" : ex.GetType().Name;
            failures.AddOrUpdate(kind, 1, static (_, n) => n + 1);
            if (firstFailures.Count < 5) firstFailures.Enqueue($"{clock.Elapsed.TotalSeconds:0.0} s: {kind}: {ex.Message}");
        }

        var workers = Enumerable.Range(0, PooledWorkers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    int pick = random.Next(100);
                    if (pick < 45) await PointReadAsync(pooled, random.Next(1, 101));
                    else if (pick < 55) await RangeReadAsync(pooled);
                    else if (pick < 85)
                    {
                        await IncrementAsync(pooled, random.Next(1, HotRows + 1));
                        Interlocked.Increment(ref increments);
                    }
                    else await UpsertAsync(pooled, random.Next(1, 5_001), random);
                    Interlocked.Increment(ref operations);
                }
                catch (Exception ex)
                {
                    Fail(ex);
                }
            }
        })).ToList();
        workers.Add(Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await PointReadAsync(single, 1);
                    Interlocked.Increment(ref operations);
                }
                catch (Exception ex)
                {
                    Fail(ex);
                }
                await Task.Delay(50);
            }
        }));

        var samples = new List<Sample>();
        using var emulatorProcess = Process.GetProcessById(lab.ProcessId);
        using var self = Process.GetCurrentProcess();
        while (clock.Elapsed < duration)
        {
            await Task.Delay(sampleEvery);
            long managed = GC.GetTotalMemory(forceFullCollection: true);
            self.Refresh();
            emulatorProcess.Refresh();
            samples.Add(new Sample(clock.Elapsed.TotalSeconds, managed, self.WorkingSet64, emulatorProcess.WorkingSet64,
                counters["dsql.connect.attempts"], counters["dsql.token.generated"], Interlocked.Read(ref operations)));
        }
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        double seconds = clock.Elapsed.TotalSeconds;

        // Every increment that returned committed exactly once: the hot rows' total must match.
        long total;
        await using (var connection = await pooled.OpenConnectionAsync())
        await using (var command = new NpgsqlCommand($"SELECT coalesce(sum(n), 0)::bigint FROM soak_rows WHERE id <= {HotRows}", connection))
        {
            total = (long)(await command.ExecuteScalarAsync())!;
        }

        int failed = failures.Values.Sum();
        long reconnects = counters["dsql.connect.attempts"];
        result.Comparisons.Add(Comparison.ValueAtMost("failed operations", "operations run", operations, "failed", failed, "operations", 0));
        result.Comparisons.Add(Comparison.Checked("hot-row total after the run", "increments committed", increments, "sum of the hot rows", total, "", "equal: nothing lost or applied twice", total == increments));
        AddFlatness(result, "managed heap after a full collection", samples, s => s.ManagedBytes);
        AddFlatness(result, "working set of the client process", samples, s => s.WorkingSetBytes);
        var steady = samples.Skip(samples.Count / 5).ToArray();
        if (steady.Length >= 2)
        {
            double slope = Stats.Slope(steady.Select(s => (double)s.Reconnects).ToArray(), steady.Select(s => (double)s.ManagedBytes).ToArray());
            result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"Managed heap against reconnects over the steady samples: {slope:0.0} bytes per reconnect (least squares; a leak of a connection's worth per reconnect would show as kilobytes)."));
        }
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"{operations:#,0} operations in {seconds:0} s ({operations / seconds:#,0}/s); {reconnects:#,0} physical connects ({reconnects / seconds:0.0}/s), {counters["dsql.token.generated"]:#,0} tokens signed, ") +
            string.Create(CultureInfo.InvariantCulture, $"{counters["dsql.transaction.retries"]:#,0} transaction retries after conflicts, {counters["dsql.connect.failures"]:#,0} failed connects retried inside the connector ({counters.Reasons("dsql.connect.failures")})."));
        foreach (var line in firstFailures) result.Notes.Add("Failure: " + line);
        result.Details.Add(new DetailTable("Memory samples", ["at", "managed heap", "client working set", "emulator working set", "physical connects", "tokens signed", "operations"],
            Thin(samples, 12).Select(s => (IReadOnlyList<string>)
            [
                s.Seconds.ToString("0 's'", CultureInfo.InvariantCulture),
                MiB(s.ManagedBytes), MiB(s.WorkingSetBytes), MiB(s.EmulatorWorkingSetBytes),
                s.Reconnects.ToString("#,0", CultureInfo.InvariantCulture),
                s.TokensSigned.ToString("#,0", CultureInfo.InvariantCulture),
                s.Operations.ToString("#,0", CultureInfo.InvariantCulture),
            ]).ToList()));
        return result;
    }

    private static async Task PointReadAsync(DsqlDataSource dataSource, int id)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT n FROM soak_rows WHERE id = $1", connection) { Parameters = { new() { Value = id } } };
        _ = await command.ExecuteScalarAsync();
    }

    private static async Task RangeReadAsync(DsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT id, n FROM soak_rows ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        long sum = 0;
        while (await reader.ReadAsync()) sum += reader.GetInt64(1);
        GC.KeepAlive(sum);
    }

    private static Task IncrementAsync(DsqlDataSource dataSource, int id)
        => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var command = new NpgsqlCommand("UPDATE soak_rows SET n = n + 1 WHERE id = $1", connection) { Parameters = { new() { Value = id } } };
            await command.ExecuteNonQueryAsync(token);
        });

    private static Task UpsertAsync(DsqlDataSource dataSource, int id, Random random)
    {
        string payload = new('x', random.Next(50, 400));
        return dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var command = new NpgsqlCommand(
                "INSERT INTO soak_log (id, payload, at) VALUES ($1, $2, now()) ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, at = excluded.at", connection)
            {
                Parameters = { new() { Value = id }, new() { Value = payload } },
            };
            await command.ExecuteNonQueryAsync(token);
        });
    }

    /// <summary>
    /// Adds a flatness comparison: the median of the first third of the steady samples (baseline) against the median
    /// of the last third (ours); flat when the ratio is at most <see cref="MemoryGrowthTarget"/>.
    /// </summary>
    private static void AddFlatness(ScenarioResult result, string measure, IReadOnlyList<Sample> samples, Func<Sample, long> value)
    {
        if (Flatness.Thirds(samples.Select(s => (double)value(s)).ToArray()) is not { } thirds)
        {
            result.Comparisons.Add(Comparison.Checked(measure, "first third", double.NaN, "last third", double.NaN, "MiB", "too few samples to judge", met: false));
            return;
        }
        result.Comparisons.Add(Comparison.RatioAtMost(measure, "first third of the run", thirds.First / (1024 * 1024), "last third", thirds.Last / (1024 * 1024), "MiB", MemoryGrowthTarget));
    }

    private static IEnumerable<Sample> Thin(IReadOnlyList<Sample> samples, int count)
    {
        if (samples.Count <= count) return samples;
        return Enumerable.Range(0, count).Select(i => samples[(int)Math.Round(i * (samples.Count - 1) / (double)(count - 1))]);
    }

    private static string MiB(long bytes) => (bytes / (1024.0 * 1024)).ToString("0.0 'MiB'", CultureInfo.InvariantCulture);
}
