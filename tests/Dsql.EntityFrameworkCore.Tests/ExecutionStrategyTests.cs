using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Tests;

/// <summary>
/// The default execution strategy of UseDsql(): the whole unit of work runs again on conflicts and on a connection lost
/// before COMMIT; an interrupted COMMIT is surfaced, or decided by verifySucceeded.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class ExecutionStrategyTests(BackendFixture backend, RuntimeEmulator emulator) : IClassFixture<RuntimeEmulator>
{
    [Fact]
    public async Task Sixteen_workers_incrementing_two_counters_reach_the_exact_totals()
    {
        const int Workers = 16, Increments = 4;
        await using var harness = await emulator.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Connector.Endpoint.Host);
        await using (var setup = harness.Context())
        {
            setup.Counters.AddRange(new Counter { Id = 1 }, new Counter { Id = 2 });
            await setup.SaveChangesAsync();
        }
        int attempts = 0;

        async Task WorkerAsync(int worker)
        {
            await using var context = harness.Context(o => o.Retries(r =>
            {
                r.MaxRetries = 100;
                r.BaseDelay = TimeSpan.FromMilliseconds(2);
                r.MaxDelay = TimeSpan.FromMilliseconds(100);
            }));
            var strategy = context.Database.CreateExecutionStrategy();
            for (int i = 0; i < Increments; i++)
            {
                await strategy.ExecuteAsync(async () =>
                {
                    Interlocked.Increment(ref attempts);
                    context.ChangeTracker.Clear();
                    await using var transaction = await context.Database.BeginTransactionAsync();
                    var counter = await context.Counters.SingleAsync(c => c.Id == 1 + worker % 2);
                    counter.Value++;
                    await context.SaveChangesAsync();
                    await transaction.CommitAsync();
                });
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Workers).Select(w => Task.Run(() => WorkerAsync(w))));

        await using var check = harness.Context();
        var totals = await check.Counters.OrderBy(c => c.Id).Select(c => c.Value).ToListAsync();
        Assert.Equal([Workers / 2 * Increments, Workers / 2 * Increments], totals);
        double conflicts = telemetry.Sum("dsql.transaction.conflicts");
        Assert.True(conflicts > 0, "the workers conflicted");
        Assert.Equal(Workers * Increments + (int)conflicts, attempts); // one more attempt per conflict, none lost
        Assert.Equal(conflicts, telemetry.Sum("dsql.transaction.retries", "reason", "conflict"));
    }

    [Fact]
    public async Task SaveChanges_alone_is_run_again_after_a_conflict()
    {
        await using var harness = await emulator.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Connector.Endpoint.Host);
        await using var context = harness.Context(o => o.Retries(r => r.BaseDelay = TimeSpan.FromMilliseconds(1)));
        context.Counters.Add(new Counter { Id = 1, Value = 1 });
        await context.SaveChangesAsync();

        // Another transaction holds the row; SaveChanges (two statements, so EF's own transaction) waits for it and
        // fails with 40001 when it commits.
        await using var other = await harness.DataSource.OpenConnectionAsync();
        await using var otherTransaction = await other.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using (var update = new NpgsqlCommand($"UPDATE {harness.Schema}.counters SET value = value + 100 WHERE id = 1", other, otherTransaction))
            await update.ExecuteNonQueryAsync();
        (await context.Counters.SingleAsync()).Value = 7;
        context.Notes.Add(new Note { Id = Guid.NewGuid(), Text = "saved once" });
        var save = context.SaveChangesAsync();
        await WaitForALockWaitAsync();
        await otherTransaction.CommitAsync();

        Assert.Equal(2, await save);
        Assert.Equal(1, telemetry.Sum("dsql.transaction.conflicts"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries", "reason", "conflict"));
        Assert.Equal(1, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.notes"));
        // SaveChanges alone writes the values computed before it: the read belongs in the retried delegate (docs/efcore.md).
        Assert.Equal(7, await harness.ScalarAsync($"SELECT value FROM {harness.Schema}.counters"));
    }

    [Fact]
    public async Task A_user_transaction_with_two_SaveChanges_is_run_again_as_a_whole()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context(o => o.Retries(r => r.BaseDelay = TimeSpan.FromMilliseconds(1)));
        context.Counters.Add(new Counter { Id = 1, Value = 10 });
        await context.SaveChangesAsync();
        int attempts = 0;

        await context.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            int attempt = ++attempts;
            context.ChangeTracker.Clear();
            await using var transaction = await context.Database.BeginTransactionAsync();
            var counter = await context.Counters.SingleAsync(); // the snapshot starts here
            context.Notes.Add(new Note { Id = Guid.NewGuid(), Text = $"attempt {attempt}" });
            await context.SaveChangesAsync();
            if (attempt == 1)
            {
                // A concurrent writer commits a change to the counter after this transaction's snapshot was taken.
                await using var other = await harness.DataSource.OpenConnectionAsync();
                await using var update = new NpgsqlCommand($"UPDATE {harness.Schema}.counters SET value = value + 5 WHERE id = 1", other);
                await update.ExecuteNonQueryAsync();
            }
            counter.Value++;
            await context.SaveChangesAsync(); // 40001 on the first attempt
            await transaction.CommitAsync();
        });

        Assert.Equal(2, attempts);
        Assert.Equal(16, await harness.ScalarAsync($"SELECT value FROM {harness.Schema}.counters")); // 10 + 5 + 1: the retry read afresh
        await using var check = harness.Context();
        Assert.Equal(["attempt 2"], await check.Notes.Select(n => n.Text).ToListAsync()); // the first attempt's insert was rolled back
    }

    [Fact]
    public async Task The_synchronous_API_runs_a_conflicting_unit_again_too()
    {
        await using var harness = await emulator.StartAsync(backend);
        using var context = harness.Context(o => o.Retries(r => r.BaseDelay = TimeSpan.FromMilliseconds(1)));
        context.Counters.Add(new Counter { Id = 1, Value = 10 });
        context.SaveChanges();
        int attempts = 0;

        context.Database.CreateExecutionStrategy().Execute(() =>
        {
            attempts++;
            context.ChangeTracker.Clear();
            using var transaction = context.Database.BeginTransaction();
            var counter = context.Counters.Single();
            if (attempts == 1)
            {
                using var other = harness.DataSource.OpenConnection();
                using var update = new NpgsqlCommand($"UPDATE {harness.Schema}.counters SET value = value + 5 WHERE id = 1", other);
                update.ExecuteNonQuery();
            }
            counter.Value++;
            context.SaveChanges(); // 40001 on the first attempt
            transaction.Commit();
        });

        Assert.Equal(2, attempts);
        Assert.Equal(16, await harness.ScalarAsync($"SELECT value FROM {harness.Schema}.counters"));
    }

    [Fact]
    public async Task When_the_retries_run_out_the_last_conflict_is_inside_RetryLimitExceededException()
    {
        await using var harness = await emulator.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Connector.Endpoint.Host);
        await using var context = harness.Context(o => o.Retries(r =>
        {
            r.MaxRetries = 1;
            r.BaseDelay = TimeSpan.FromMilliseconds(1);
        }));
        context.Counters.Add(new Counter { Id = 1 });
        await context.SaveChangesAsync();
        int attempts = 0;

        var ex = await Assert.ThrowsAsync<RetryLimitExceededException>(() => context.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            attempts++;
            context.ChangeTracker.Clear();
            await using var transaction = await context.Database.BeginTransactionAsync();
            var counter = await context.Counters.SingleAsync();
            await using (var other = await harness.DataSource.OpenConnectionAsync())
            await using (var update = new NpgsqlCommand($"UPDATE {harness.Schema}.counters SET value = value + 1 WHERE id = 1", other))
                await update.ExecuteNonQueryAsync(); // every attempt loses to a concurrent writer
            counter.Value = 100;
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        }));

        Assert.Equal(2, attempts);
        Assert.True(DsqlErrors.IsConflict(ex.InnerException!));
        Assert.Contains("MaxRetries", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries.exhausted", "reason", "conflict"));
        Assert.Equal(2, await harness.ScalarAsync($"SELECT value FROM {harness.Schema}.counters")); // only the other writer's commits
    }

    [Fact]
    public async Task An_interrupted_commit_is_surfaced_as_ambiguous_and_not_run_again()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();
        int attempts = 0, cutBefore = harness.Connector.Emulator.Faults.CommitsCut;
        harness.Connector.Emulator.Faults.CutSessionsAtCommit(1, CommitCutPoint.AfterCommit);

        var ex = await Assert.ThrowsAsync<DsqlAmbiguousCommitException>(() => context.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            attempts++;
            await using var transaction = await context.Database.BeginTransactionAsync();
            context.Notes.Add(new Note { Id = Guid.NewGuid(), Text = "once" });
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        }));

        Assert.Equal(1, attempts);
        Assert.False(ex.IsTransient);
        Assert.Equal(cutBefore + 1, harness.Connector.Emulator.Faults.CommitsCut);
        Assert.Equal(1, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.notes")); // it had committed
    }

    [Theory]
    [InlineData(CommitCutPoint.AfterCommit, 1)] // committed: the check finds it, nothing runs again
    [InlineData(CommitCutPoint.BeforeCommit, 2)] // not committed: the check finds nothing, the work runs again
    public async Task With_verifySucceeded_the_check_decides_an_interrupted_commit(CommitCutPoint point, int expectedAttempts)
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context(o => o.Retries(r => r.BaseDelay = TimeSpan.FromMilliseconds(1)));
        var id = Guid.NewGuid();
        int attempts = 0, checks = 0;
        harness.Connector.Emulator.Faults.CutSessionsAtCommit(1, point);

        await context.Database.CreateExecutionStrategy().ExecuteInTransactionAsync(
            async token =>
            {
                attempts++;
                context.ChangeTracker.Clear();
                context.Notes.Add(new Note { Id = id, Text = "exactly once" });
                await context.SaveChangesAsync(acceptAllChangesOnSuccess: false, token);
            },
            async token =>
            {
                checks++;
                return await context.Notes.AsNoTracking().AnyAsync(n => n.Id == id, token);
            });

        Assert.Equal(expectedAttempts, attempts);
        Assert.Equal(1, checks);
        Assert.Equal(1, await harness.ScalarAsync($"SELECT count(*) FROM {harness.Schema}.notes"));
    }

    [Fact]
    public async Task A_connection_lost_before_commit_runs_the_unit_again_without_duplicates()
    {
        await using var harness = await emulator.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Connector.Endpoint.Host);
        await using var context = harness.Context(o => o.Retries(r => r.BaseDelay = TimeSpan.FromMilliseconds(1)));
        int attempts = 0;

        await context.Database.CreateExecutionStrategy().ExecuteAsync(async () =>
        {
            int attempt = ++attempts;
            context.ChangeTracker.Clear();
            await using var transaction = await context.Database.BeginTransactionAsync();
            context.Notes.Add(new Note { Id = Guid.NewGuid(), Text = "first" });
            await context.SaveChangesAsync();
            if (attempt == 1) Assert.True(harness.Connector.Emulator.Faults.CloseAllSessions() > 0); // FATAL 57P01 to every session
            context.Notes.Add(new Note { Id = Guid.NewGuid(), Text = "second" });
            await context.SaveChangesAsync(); // the session is gone on the first attempt: nothing was committed
            await transaction.CommitAsync();
        });

        Assert.Equal(2, attempts);
        await using var check = harness.Context();
        Assert.Equal(["first", "second"], await check.Notes.OrderBy(n => n.Text).Select(n => n.Text).ToListAsync());
        Assert.Equal(1, telemetry.Sum("dsql.transaction.connection_losses"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries", "reason", "connection_lost"));
    }

    [Fact]
    public async Task A_SaveChanges_without_a_transaction_whose_connection_fails_is_ambiguous()
    {
        await using var harness = await emulator.StartAsync(backend);
        await using var context = harness.Context();
        var id = Guid.NewGuid();
        // Another transaction holds the key: the single INSERT (autocommit, no transaction) waits for it.
        await using var other = await harness.DataSource.OpenConnectionAsync();
        await using var otherTransaction = await other.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using (var insert = new NpgsqlCommand($"INSERT INTO {harness.Schema}.notes (id, text) VALUES ('{id}', 'other')", other, otherTransaction))
            await insert.ExecuteNonQueryAsync();
        context.Notes.Add(new Note { Id = id, Text = "mine" });

        var save = context.SaveChangesAsync();
        while (!save.IsCompleted)
        {
            await WaitForALockWaitAsync();
            await using var direct = backend.OpenDirect();
            await using var terminate = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", direct);
            await terminate.ExecuteScalarAsync();
            await Task.WhenAny(save, Task.Delay(100));
        }

        // The statement was on its way: the server may have run it, so it is not run again.
        var ex = await Assert.ThrowsAsync<DbUpdateException>(() => save);
        Assert.IsType<DsqlAmbiguousCommitException>(ex.InnerException);
        await otherTransaction.RollbackAsync();
    }

    [Fact]
    public void Retry_options_are_validated_when_given()
    {
        var builder = new DbContextOptionsBuilder();
        var ex = Assert.Throws<DsqlConfigurationException>(() => builder.UseDsql("Host=abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", o => o.Retries(r => r.MaxRetries = -1)));
        Assert.Contains("MaxRetries", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Waits until some session of the backend waits for a lock (the SaveChanges under test, blocked by the other transaction).</summary>
    private async Task WaitForALockWaitAsync()
    {
        await using var direct = backend.OpenDirect();
        for (int i = 0; i < 1000; i++)
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE NOT granted", direct);
            if ((long)(await command.ExecuteScalarAsync())! > 0) return;
            await Task.Delay(10);
        }
        throw new TimeoutException("SaveChanges never waited for the other transaction's lock.");
    }
}
