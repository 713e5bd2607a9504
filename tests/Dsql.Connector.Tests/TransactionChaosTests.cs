using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace Dsql.Connector.Tests;

/// <summary>
/// Counter transactions under load while the emulator closes sessions at random and cuts sessions at COMMIT: every
/// call either commits exactly once and reports success, or reports failure and committed nothing, or reports an
/// ambiguous commit. The run lasts 12 s; <c>DSQL_CHAOS_SECONDS</c> sets another duration (60 for a soak).
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class TransactionChaosTests(BackendFixture backend, ITestOutputHelper output)
{
    private const int Workers = 8;
    private const int Counters = 4;

    private static TimeSpan Duration()
        => Environment.GetEnvironmentVariable("DSQL_CHAOS_SECONDS") is { Length: > 0 } text
            ? TimeSpan.FromSeconds(double.Parse(text, CultureInfo.InvariantCulture))
            : TimeSpan.FromSeconds(12);

    /// <summary>The longest pause between two faults (the pause is random, from a fifth of it); <c>DSQL_CHAOS_INTERVAL_MS</c> sets it.</summary>
    private static int MaxFaultInterval()
        => Environment.GetEnvironmentVariable("DSQL_CHAOS_INTERVAL_MS") is { Length: > 0 } text ? int.Parse(text, CultureInfo.InvariantCulture) : 500;

    [Fact]
    public async Task Sessions_closed_at_random_under_eight_workers_never_lose_or_double_a_reported_outcome()
    {
        var duration = Duration();
        int maxInterval = MaxFaultInterval();
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build("Maximum Pool Size=16");
        string operations = EmulatorConnections.UniqueName("ops");
        string counters = EmulatorConnections.UniqueName("counters");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {operations} (id bigint PRIMARY KEY, counter int NOT NULL)");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {counters} (id int PRIMARY KEY, n bigint NOT NULL)");
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {counters} SELECT g, 0 FROM generate_series(1, {Counters}) g");

        var succeeded = new ConcurrentBag<long>();
        var ambiguous = new ConcurrentBag<long>();
        var failed = new ConcurrentBag<(long Id, Exception Error)>();
        long nextId = 0;
        var faults = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();

        async Task WorkerAsync()
        {
            while (clock.Elapsed < duration)
            {
                long id = Interlocked.Increment(ref nextId);
                int counter = (int)(id % Counters) + 1;
                try
                {
                    await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
                    {
                        await using var insert = new NpgsqlCommand($"INSERT INTO {operations} VALUES ($1, $2)", connection) { Parameters = { new() { Value = id }, new() { Value = counter } } };
                        await insert.ExecuteNonQueryAsync(token);
                        await using var bump = new NpgsqlCommand($"UPDATE {counters} SET n = n + 1 WHERE id = $1", connection) { Parameters = { new() { Value = counter } } };
                        await bump.ExecuteNonQueryAsync(token);
                    });
                    succeeded.Add(id);
                }
                catch (DsqlAmbiguousCommitException)
                {
                    ambiguous.Add(id);
                }
                catch (Exception ex)
                {
                    failed.Add((id, ex));
                }
            }
        }

        async Task ChaosAsync()
        {
            while (clock.Elapsed < duration)
            {
                var pause = TimeSpan.FromMilliseconds(Random.Shared.Next(maxInterval / 5, maxInterval + 1));
                var left = duration - clock.Elapsed;
                await Task.Delay(pause < left ? pause : left > TimeSpan.Zero ? left : TimeSpan.Zero);
                if (clock.Elapsed >= duration) break;
                switch (Random.Shared.Next(10))
                {
                    case < 4:
                        faults.AddOrUpdate("close_sessions", 1, (_, n) => n + 1);
                        harness.Emulator.Faults.CloseSessions(Random.Shared.Next(1, 4));
                        break;
                    case < 5:
                        faults.AddOrUpdate("close_all_sessions", 1, (_, n) => n + 1);
                        harness.Emulator.Faults.CloseAllSessions();
                        break;
                    case < 8:
                        faults.AddOrUpdate("cut_before_commit", 1, (_, n) => n + 1);
                        harness.Emulator.Faults.CutSessionsAtCommit(1, CommitCutPoint.BeforeCommit);
                        break;
                    default:
                        faults.AddOrUpdate("cut_after_commit", 1, (_, n) => n + 1);
                        harness.Emulator.Faults.CutSessionsAtCommit(1, CommitCutPoint.AfterCommit);
                        break;
                }
            }
            harness.Emulator.Faults.CutSessionsAtCommit(0);
        }

        await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(WorkerAsync)).Append(Task.Run(ChaosAsync)));

        await using var check = await dataSource.OpenConnectionAsync();
        var present = (await check.QueryAsync<long>($"SELECT id FROM {operations}")).ToHashSet();
        long counted = await check.ExecuteScalarAsync<long>($"SELECT sum(n) FROM {counters}");
        int ambiguousPresent = ambiguous.Count(present.Contains);
        double lostRetries = telemetry.Sum("dsql.transaction.retries", "reason", "connection_lost");
        double conflictRetries = telemetry.Sum("dsql.transaction.retries", "reason", "conflict");
        output.WriteLine(string.Join(" ",
            FormattableString.Invariant($"{duration.TotalSeconds:0} s, {Workers} workers: {nextId} operations, {succeeded.Count} succeeded, {failed.Count} failed,"),
            FormattableString.Invariant($"{ambiguous.Count} ambiguous ({ambiguousPresent} of them committed); retries: {lostRetries} on lost connections, {conflictRetries} on conflicts;"),
            FormattableString.Invariant($"connection losses before COMMIT {telemetry.Sum("dsql.transaction.connection_losses")}; commits cut {harness.Emulator.Faults.CommitsCut};"),
            "faults " + string.Join(", ", faults.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => FormattableString.Invariant($"{f.Key}={f.Value}")))));
        foreach (var outcome in telemetry.Of("dsql.transaction.duration").GroupBy(m => (string)m.Tags["outcome"]!))
        {
            var seconds = outcome.Select(m => m.Value).Order().ToList();
            output.WriteLine(FormattableString.Invariant($"duration {outcome.Key}: {seconds.Count} calls, median {seconds[seconds.Count / 2] * 1000:0} ms, max {seconds[^1] * 1000:0} ms"));
        }
        foreach (var group in failed.GroupBy(f => f.Error.GetType().Name + " " + (DsqlErrors.FindPostgresException(f.Error)?.SqlState ?? "")))
            output.WriteLine($"failure: {group.Key} x{group.Count()}: {group.First().Error.Message}");

        // No ObjectDisposedException ever, and every failure is a database error a handler of DbException sees.
        foreach (var (_, error) in failed)
        {
            for (var current = error; current is not null; current = current.InnerException)
                Assert.False(current is ObjectDisposedException, $"ObjectDisposedException reached the caller: {error}");
            Assert.True(error is NpgsqlException, $"not a database error: {error}");
        }
        // Every reported success is in the table (exactly once: the id is the primary key), every failure is absent,
        // and nothing is in the table that was not reported as a success or as ambiguous.
        Assert.All(succeeded, id => Assert.Contains(id, present));
        Assert.All(failed, f => Assert.DoesNotContain(f.Id, present));
        var reported = succeeded.Concat(ambiguous).ToHashSet();
        Assert.All(present, id => Assert.Contains(id, reported));
        // Each committed transaction bumped its counter once: the counters agree with the rows.
        Assert.Equal(present.Count, counted);
        Assert.Equal(succeeded.Count + ambiguousPresent, present.Count);
        // The faults happened and were survived: work went on, and lost connections were retried.
        // (A physical open takes 80-250 ms on a loaded 2-core machine and every fault costs some: at least one success a second.)
        Assert.True(succeeded.Count >= duration.TotalSeconds, $"only {succeeded.Count} transactions succeeded");
        Assert.True(lostRetries > 0, "no attempt lost its connection: the chaos did not reach the transactions");
        Assert.True(harness.Emulator.Faults.CommitsCut > 0, "no COMMIT was cut");
        Assert.True(ambiguous.Count > 0, "no COMMIT was reported ambiguous although sessions were cut at COMMIT");
    }
}
