using System.Diagnostics;
using Amazon.Runtime;
using Dsql.Emulator;
using Npgsql;

namespace Dsql.Connector.Benchmarks;

/// <summary>
/// N writers incrementing K hot rows through ExecuteInTransactionAsync for a fixed time, once per backoff setting:
/// committed transactions per second, retries per commit, p50/p99 latency of a committed transaction, and how many
/// gave up. Runs on the emulator (PostgreSQL detects the conflicts; DSQL would detect them at commit).
/// </summary>
internal static class ContentionHarness
{
    private const int Writers = 32;
    private const int HotRows = 8;

    private static readonly (string Name, DsqlTransactionOptions Options)[] Settings =
    [
        ("defaults (50 ms x2, cap 2 s, 10 retries)", new DsqlTransactionOptions()),
        ("AWS connector (100 ms x2, cap 5 s, 10 retries)", new DsqlTransactionOptions { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(5), MaxRetries = 10 }),
        ("fast (1 ms x2, cap 100 ms, 10 retries)", new DsqlTransactionOptions { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(100), MaxRetries = 10 }),
        ("10 ms x2, cap 1 s, 10 retries", new DsqlTransactionOptions { BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromSeconds(1), MaxRetries = 10 }),
    ];

    public static async Task RunAsync(TimeSpan duration)
    {
        await using var emulator = await DsqlEmulator.StartAsync();
        var endpoint = emulator.Endpoints[0];
        await using var dataSource = new DsqlDataSourceBuilder($"Host={endpoint.Host};Host Address=127.0.0.1;Port={endpoint.Port};Root Certificate={endpoint.CaCertificatePath};Maximum Pool Size={Writers + 4}")
            .UseCredentials(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey))
            .Build();
        await dataSource.ExecuteNonQueryAsync("CREATE TABLE hot_rows (id int PRIMARY KEY, n bigint NOT NULL)");
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO hot_rows SELECT g, 0 FROM generate_series(1, {HotRows}) g");

        // Warm-up (JIT, pool, the table's first versions), not recorded.
        await RunOneAsync(dataSource, new DsqlTransactionOptions(), TimeSpan.FromSeconds(3));
        Console.WriteLine($"## OCC contention: {Writers} writers, {HotRows} hot rows, {duration.TotalSeconds:F0} s per setting ({DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores)");
        Console.WriteLine("| backoff | committed/s | retries per commit | p50 | p99 | gave up |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (name, options) in Settings)
        {
            var result = await RunOneAsync(dataSource, options, duration);
            Console.WriteLine($"| {name} | {result.Commits / duration.TotalSeconds:F0} | {(double)result.Retries / Math.Max(1, result.Commits):F2} | {result.P50:F1} ms | {result.P99:F1} ms | {result.GaveUp} |");
        }
    }

    private static async Task<(long Commits, long Retries, long GaveUp, double P50, double P99)> RunOneAsync(DsqlDataSource dataSource, DsqlTransactionOptions options, TimeSpan duration)
    {
        long commits = 0, attempts = 0, gaveUp = 0;
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(writer => Task.Run(async () =>
        {
            var random = new Random(writer);
            while (Stopwatch.GetTimestamp() < until)
            {
                int row = random.Next(1, HotRows + 1);
                long started = Stopwatch.GetTimestamp();
                try
                {
                    await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
                    {
                        Interlocked.Increment(ref attempts);
                        await using var command = new NpgsqlCommand("UPDATE hot_rows SET n = n + 1 WHERE id = $1", connection) { Parameters = { new() { Value = row } } };
                        await command.ExecuteNonQueryAsync(token);
                    }, options);
                    Interlocked.Increment(ref commits);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (DsqlTransactionConflictException)
                {
                    Interlocked.Increment(ref gaveUp);
                }
            }
        })));
        var sorted = latencies.OrderBy(l => l).ToArray();
        double Percentile(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        return (commits, attempts - commits - gaveUp, gaveUp, Percentile(0.5), Percentile(0.99));
    }
}
