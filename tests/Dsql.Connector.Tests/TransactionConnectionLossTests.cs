using System.Diagnostics;
using Dapper;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>
/// Transactions whose connection is lost: before COMMIT is sent the whole delegate runs again on a fresh connection;
/// during COMMIT the outcome is ambiguous and reported so; the real error always reaches the caller.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class TransactionConnectionLossTests(BackendFixture backend)
{
    private static async Task<string> CreateTableAsync(DsqlDataSource dataSource)
    {
        string table = EmulatorConnections.UniqueName("lost");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id int PRIMARY KEY, attempt int NOT NULL)");
        return table;
    }

    private static async Task<List<(int Id, int Attempt)>> RowsAsync(DsqlDataSource dataSource, string table)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<(int, int)>($"SELECT id, attempt FROM {table} ORDER BY id")).ToList();
    }

    private static async Task InsertAsync(NpgsqlConnection connection, string table, int id, int attempt, CancellationToken token)
    {
        await using var command = new NpgsqlCommand($"INSERT INTO {table} VALUES ($1, $2)", connection) { Parameters = { new() { Value = id }, new() { Value = attempt } } };
        await command.ExecuteNonQueryAsync(token);
    }

    /// <summary>Closes every session (FATAL 57P01, as a server-side cut) and waits until the emulator has closed them.</summary>
    private static async Task CloseAllSessionsAsync(DsqlEmulator emulator)
    {
        emulator.Faults.CloseAllSessions();
        var waited = Stopwatch.StartNew();
        while (emulator.OpenSessionCount > 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "the emulator did not close its sessions");
            await Task.Delay(10);
        }
    }

    private static void AssertNoObjectDisposed(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
            Assert.False(current is ObjectDisposedException, $"an ObjectDisposedException reached the caller: {exception}");
    }

    [Fact]
    public async Task A_session_closed_mid_delegate_runs_the_delegate_again_on_a_fresh_connection_and_commits_once()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        int attempts = 0;

        int committedBy = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            int attempt = Interlocked.Increment(ref attempts);
            await InsertAsync(connection, table, 1, attempt, token);
            if (attempt == 1)
            {
                await CloseAllSessionsAsync(harness.Emulator);
                await InsertAsync(connection, table, 2, attempt, token); // fails: the server ended the session
            }
            return attempt;
        });

        Assert.Equal(2, committedBy);
        Assert.Equal([(1, 2)], await RowsAsync(dataSource, table)); // the second attempt's row, once; nothing of the first
        Assert.Equal(1, telemetry.Sum("dsql.transaction.connection_losses"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries", "reason", "connection_lost"));
        Assert.Equal(0, telemetry.Sum("dsql.transaction.retries", "reason", "conflict"));
        Assert.Equal("committed", telemetry.Of("dsql.transaction.duration")[^1].Tags["outcome"]);
        var activity = telemetry.Activities[^1]; // the first one created the table
        Assert.Equal(["connection_lost", "committed"], activity.Events.Where(e => e.Name == "attempt").Select(e => e.Tags.First(t => t.Key == "outcome").Value as string));
        Assert.Contains(harness.Logs.Lines, l => l.Contains("lost its connection before COMMIT", StringComparison.Ordinal) && l.Contains("57P01", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_connection_that_died_idle_in_the_pool_costs_a_retry_not_an_error()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build("Maximum Pool Size=1");
        string table = await CreateTableAsync(dataSource);
        await CloseAllSessionsAsync(harness.Emulator); // the pooled connection is dead; the pool does not know yet
        int attempts = 0;

        await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            int attempt = Interlocked.Increment(ref attempts);
            await InsertAsync(connection, table, 1, attempt, token); // BEGIN goes out with this statement
        });

        Assert.Equal(2, attempts);
        Assert.Equal([(1, 2)], await RowsAsync(dataSource, table));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries", "reason", "connection_lost"));
    }

    [Fact]
    public async Task A_delegate_that_swallows_the_lost_connection_error_is_not_reported_as_committed()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        int attempts = 0;

        int committedBy = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            int attempt = Interlocked.Increment(ref attempts);
            await InsertAsync(connection, table, 1, attempt, token);
            if (attempt == 1)
            {
                await CloseAllSessionsAsync(harness.Emulator);
                try
                {
                    await InsertAsync(connection, table, 2, attempt, token);
                }
                catch (NpgsqlException)
                {
                    // Swallowed: the delegate returns as if all went well.
                }
            }
            return attempt;
        });

        Assert.Equal(2, committedBy);
        Assert.Equal([(1, 2)], await RowsAsync(dataSource, table));
    }

    [Fact]
    public async Task Without_retries_a_swallowed_loss_fails_with_a_transient_error_that_says_nothing_was_committed()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);

        var ex = await Assert.ThrowsAsync<DsqlConnectionLostException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await InsertAsync(connection, table, 1, 1, token);
            await CloseAllSessionsAsync(harness.Emulator);
            try
            {
                await InsertAsync(connection, table, 2, 1, token);
            }
            catch (NpgsqlException)
            {
            }
        }, new DsqlTransactionOptions { MaxRetries = 0 }));

        Assert.True(ex.IsTransient);
        Assert.Contains("nothing was committed", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await RowsAsync(dataSource, table));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries.exhausted", "reason", "connection_lost"));
        Assert.Equal("connection_lost", telemetry.Of("dsql.transaction.duration")[^1].Tags["outcome"]);
    }

    [Fact]
    public async Task When_every_attempt_loses_its_connection_the_server_error_itself_reaches_the_caller()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        int attempts = 0;

        var ex = await Record.ExceptionAsync(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            int attempt = Interlocked.Increment(ref attempts);
            await InsertAsync(connection, table, attempt, attempt, token);
            await CloseAllSessionsAsync(harness.Emulator);
            await InsertAsync(connection, table, 100 + attempt, attempt, token);
        }, new DsqlTransactionOptions { MaxRetries = 2, BaseDelay = TimeSpan.FromMilliseconds(1) }));

        AssertNoObjectDisposed(ex);
        var postgres = Assert.IsType<PostgresException>(ex); // the server's FATAL, as Npgsql raised it
        Assert.Equal("57P01", postgres.SqlState);
        Assert.Equal(3, attempts);
        Assert.Empty(await RowsAsync(dataSource, table));
        Assert.Equal(3, telemetry.Sum("dsql.transaction.connection_losses"));
        Assert.Equal(2, telemetry.Sum("dsql.transaction.retries", "reason", "connection_lost"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries.exhausted", "reason", "connection_lost"));
    }

    [Fact]
    public async Task A_session_ended_during_a_statement_reaches_the_caller_as_npgsqls_error_not_object_disposed()
    {
        // Before the fix, the rollback after the failure read the broken transaction's Connection, and Npgsql's
        // ObjectDisposedException replaced the real error.
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);

        var ex = await Record.ExceptionAsync(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await InsertAsync(connection, table, 1, 1, token);
            // The session is ended (FATAL 57P01) while the server is still busy with a statement.
            var sleeping = new NpgsqlCommand("SELECT pg_sleep(5)", connection).ExecuteNonQueryAsync(token);
            await Task.Delay(300, token);
            harness.Emulator.Faults.CloseAllSessions();
            await sleeping;
        }, new DsqlTransactionOptions { MaxRetries = 0 }));

        AssertNoObjectDisposed(ex);
        var npgsql = Assert.IsAssignableFrom<NpgsqlException>(ex);
        Assert.True(npgsql.IsTransient || npgsql is PostgresException { SqlState: "57P01" }, $"unexpected: {ex}");
        Assert.Empty(await RowsAsync(dataSource, table));
    }

    [Theory]
    [InlineData(CommitCutPoint.BeforeCommit, 0)]
    [InlineData(CommitCutPoint.AfterCommit, 1)]
    public async Task A_session_cut_when_commit_is_sent_is_ambiguous_and_never_run_again(CommitCutPoint point, int rowsCommitted)
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        int attempts = 0;
        harness.Emulator.Faults.CutSessionsAtCommit(1, point);

        var ex = await Assert.ThrowsAsync<DsqlAmbiguousCommitException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            int attempt = Interlocked.Increment(ref attempts);
            await InsertAsync(connection, table, 1, attempt, token);
        }));

        Assert.Equal(1, attempts);
        Assert.False(ex.IsTransient);
        Assert.False(DsqlErrors.IsConflict(ex));
        Assert.IsAssignableFrom<NpgsqlException>(ex.InnerException);
        Assert.Equal(1, harness.Emulator.Faults.CommitsCut);
        Assert.Equal(rowsCommitted, (await RowsAsync(dataSource, table)).Count); // the ambiguity is real: either can happen
        Assert.Equal("ambiguous_commit", telemetry.Of("dsql.transaction.duration")[^1].Tags["outcome"]);
        Assert.Equal(0, telemetry.Sum("dsql.transaction.retries"));
    }

    [Fact]
    public async Task Read_only_work_that_loses_its_connection_runs_again_and_returns_its_result()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        int attempts = 0;

        long result = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            int attempt = Interlocked.Increment(ref attempts);
            if (attempt == 1) await CloseAllSessionsAsync(harness.Emulator);
            return (long)(await new NpgsqlCommand("SELECT 40 + 2::bigint", connection).ExecuteScalarAsync(token))!;
        }, new DsqlTransactionOptions { ReadOnly = true });

        Assert.Equal(42L, result);
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task Conflicts_and_lost_connections_share_one_retry_budget()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build();
        int attempts = 0;

        // Attempts alternate: a conflict, then a lost connection, ... With MaxRetries = 3 there are 4 attempts in all.
        var ex = await Record.ExceptionAsync(() => dataSource.ExecuteInTransactionAsync<int>(async (connection, token) =>
        {
            int attempt = Interlocked.Increment(ref attempts);
            if (attempt % 2 == 1) throw new PostgresException("change conflicts with another transaction (OC000)", "ERROR", "ERROR", "40001");
            await CloseAllSessionsAsync(harness.Emulator);
            return (int)(await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync(token))!;
        }, new DsqlTransactionOptions { MaxRetries = 3, BaseDelay = TimeSpan.FromMilliseconds(1) }));

        Assert.Equal(4, attempts);
        Assert.Equal("57P01", Assert.IsType<PostgresException>(ex).SqlState); // the last attempt lost its connection
        // Retries after attempts 1 (conflict), 2 (lost) and 3 (conflict); attempt 4 (lost) used up the budget.
        Assert.Equal(2, telemetry.Sum("dsql.transaction.retries", "reason", "conflict"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries", "reason", "connection_lost"));
        Assert.Equal(2, telemetry.Sum("dsql.transaction.conflicts"));
        Assert.Equal(2, telemetry.Sum("dsql.transaction.connection_losses"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries.exhausted", "reason", "connection_lost"));
    }

    [Fact]
    public async Task A_delegate_error_on_a_healthy_connection_is_not_retried_and_reaches_the_caller_unchanged()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        int attempts = 0;
        var thrown = new InvalidOperationException("the delegate's own failure");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            Interlocked.Increment(ref attempts);
            await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync(token);
            throw thrown;
        }));

        Assert.Same(thrown, ex);
        Assert.Equal(1, attempts);
    }
}
