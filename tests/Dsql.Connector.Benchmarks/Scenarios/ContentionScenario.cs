using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// Optimistic-concurrency contention: <see cref="Writers"/> writers increment <see cref="HotRows"/> hot rows through
/// ExecuteInTransactionAsync for a fixed time under each backoff setting: committed transactions per second, retries
/// per commit, p50/p99 latency of a committed transaction, and how many gave up. The baseline is the backoff AWS's
/// connector uses; ours are the connector's defaults.
/// </summary>
internal static class ContentionScenario
{
    private const int Writers = 32;
    private const int HotRows = 8;

    private static readonly (string Name, DsqlTransactionOptions Options)[] Settings =
    [
        ("defaults: 50 ms x2, cap 2 s, 10 retries", new DsqlTransactionOptions()),
        ("AWS's connector: 100 ms x2, cap 5 s, 10 retries", new DsqlTransactionOptions { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(5), MaxRetries = 10 }),
        ("10 ms x2, cap 1 s, 10 retries", new DsqlTransactionOptions { BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromSeconds(1), MaxRetries = 10 }),
        ("1 ms x2, cap 100 ms, 10 retries", new DsqlTransactionOptions { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(100), MaxRetries = 10 }),
    ];

    /// <summary>What one setting produced. Conflicts: attempts that failed with 40001; AtStatement: those whose 40001 came from the UPDATE rather than the COMMIT.</summary>
    internal sealed record Outcome(double CommitsPerSecond, double RetriesPerCommit, double P50, double P99, long GaveUp, long Failed, long Conflicts, long AtStatement)
    {
        /// <summary>The share of conflicts raised at COMMIT, as DSQL raises them.</summary>
        public double AtCommitShare => Conflicts == 0 ? double.NaN : (double)(Conflicts - AtStatement) / Conflicts;
    }

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        var duration = TimeSpan.FromSeconds(settings.Quick ? 5 : 10);
        var result = new ScenarioResult
        {
            Id = "contention",
            Title = "OCC contention: retry defaults against alternatives",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"{Writers} writers increment {HotRows} hot rows through `ExecuteInTransactionAsync` for {duration.TotalSeconds:0} s per backoff setting after a 3 s warm-up, ") +
                "one emulator for all settings. Latency is that of a committed transaction, retries included. The emulator reports a write-write conflict at the " +
                "loser's COMMIT as DSQL does, but learns of it when the loser's UPDATE meets the winner's row lock (after waiting at most 200 ms for it): the retry " +
                "arithmetic is the same, the absolute latencies on DSQL are not. A conflict counts as raised at COMMIT unless the UPDATE itself failed with 40001.",
        };

        await using var lab = await LabEndpoint.StartAsync();
        await using var dataSource = lab.Connector($"Maximum Pool Size={Writers + 4}");
        await dataSource.ExecuteNonQueryAsync("CREATE TABLE hot_rows (id int PRIMARY KEY, n bigint NOT NULL)");
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO hot_rows SELECT g, 0 FROM generate_series(1, {HotRows}) g");
        await RunOneAsync(dataSource, new DsqlTransactionOptions(), TimeSpan.FromSeconds(3));

        var outcomes = new List<(string Name, Outcome Outcome)>();
        foreach (var (name, options) in Settings)
        {
            settings.Log($"contention: {name}");
            outcomes.Add((name, await RunOneAsync(dataSource, options, duration)));
        }

        var ours = outcomes[0].Outcome;
        var aws = outcomes[1].Outcome;
        const string baseline = "AWS's connector's backoff", mine = "defaults";
        result.Comparisons.Add(Comparison.Informative("committed transactions per second", baseline, aws.CommitsPerSecond, mine, ours.CommitsPerSecond, "/s", "higher is better"));
        result.Comparisons.Add(Comparison.Informative("p99 latency of a committed transaction", baseline, aws.P99, mine, ours.P99, "ms", "lower is better"));
        result.Comparisons.Add(Comparison.Informative("retries per commit", baseline, aws.RetriesPerCommit, mine, ours.RetriesPerCommit, ""));
        long conflicts = outcomes.Sum(o => o.Outcome.Conflicts), atStatement = outcomes.Sum(o => o.Outcome.AtStatement);
        double atCommitShare = conflicts == 0 ? double.NaN : (double)(conflicts - atStatement) / conflicts;
        result.Comparisons.Add(Comparison.Checked(string.Create(CultureInfo.InvariantCulture, $"share of the {conflicts:#,0} conflicts raised at COMMIT (all settings)"), "DSQL", 100, "emulator", atCommitShare * 100, "%",
            ">= 90%", conflicts > 0 && atCommitShare >= 0.90));
        result.Comparisons.Add(Comparison.ValueAtMost("transactions that gave up (retries exhausted) or failed", baseline, aws.GaveUp + aws.Failed, mine, ours.GaveUp + ours.Failed, "transactions", 0));
        result.Details.Add(new DetailTable("Every setting", ["backoff", "committed/s", "retries per commit", "p50", "p99", "gave up", "other failures", "conflicts at COMMIT"],
            outcomes.Select(o => (IReadOnlyList<string>)
            [
                o.Name,
                o.Outcome.CommitsPerSecond.ToString("#,0", CultureInfo.InvariantCulture),
                o.Outcome.RetriesPerCommit.ToString("0.00", CultureInfo.InvariantCulture),
                Report.FormatValue(o.Outcome.P50, "ms"),
                Report.FormatValue(o.Outcome.P99, "ms"),
                o.Outcome.GaveUp.ToString("#,0", CultureInfo.InvariantCulture),
                o.Outcome.Failed.ToString("#,0", CultureInfo.InvariantCulture),
                double.IsNaN(o.Outcome.AtCommitShare) ? "no conflict" : o.Outcome.AtCommitShare.ToString("0.0%", CultureInfo.InvariantCulture),
            ]).ToList()));
        return result;
    }

    private static async Task<Outcome> RunOneAsync(DsqlDataSource dataSource, DsqlTransactionOptions options, TimeSpan duration)
    {
        long commits = 0, attempts = 0, gaveUp = 0, failed = 0, atStatement = 0;
        var latencies = new ConcurrentBag<double>();
        long until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
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
                        try
                        {
                            await command.ExecuteNonQueryAsync(token);
                        }
                        catch (PostgresException ex) when (ex.SqlState == "40001")
                        {
                            Interlocked.Increment(ref atStatement);
                            throw;
                        }
                    }, options);
                    Interlocked.Increment(ref commits);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (DsqlTransactionConflictException)
                {
                    Interlocked.Increment(ref gaveUp);
                }
                catch (Exception ex) when (ex is NpgsqlException or DsqlTransactionTimeoutException or TimeoutException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })));
        var sorted = latencies.Order().ToArray();
        long retries = attempts - commits - gaveUp - failed;
        // Every attempt ends in a commit, a conflict (40001, retried or given up) or another failure.
        long conflicts = Math.Max(0, attempts - commits - failed);
        return new Outcome(commits / duration.TotalSeconds, (double)Math.Max(0, retries) / Math.Max(1, commits), Stats.Percentile(sorted, 0.5), Stats.Percentile(sorted, 0.99), gaveUp, failed,
            conflicts, Math.Min(atStatement, conflicts));
    }
}
