using System.Collections.Concurrent;
using System.Data;
using Dapper;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>Retrying transactions, the transaction guard and DSQL's limits, through the emulator.</summary>
[Collection(BackendCollection.Name)]
public sealed class TransactionTests(BackendFixture backend)
{
    private static async Task<long> CountAsync(DsqlDataSource dataSource, string table)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        return (long)(await new NpgsqlCommand($"SELECT count(*) FROM {table}", connection).ExecuteScalarAsync())!;
    }

    private static async Task<string> CreateTableAsync(DsqlDataSource dataSource, string columns = "id int PRIMARY KEY, n bigint NOT NULL")
    {
        string table = EmulatorConnections.UniqueName("tx");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} ({columns})");
        return table;
    }

    [Fact]
    public async Task Sixteen_workers_incrementing_four_counters_end_with_exact_totals()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build("Maximum Pool Size=20");
        string table = await CreateTableAsync(dataSource);
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} SELECT g, 0 FROM generate_series(1, 4) g");

        var surfaced = new ConcurrentBag<Exception>();
        await Task.WhenAll(Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            for (int i = 0; i < 200; i++)
            {
                int counter = (worker + i) % 4 + 1;
                try
                {
                    await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
                    {
                        await using var command = new NpgsqlCommand($"UPDATE {table} SET n = n + 1 WHERE id = $1", connection) { Parameters = { new() { Value = counter } } };
                        await command.ExecuteNonQueryAsync(token);
                    });
                }
                catch (Exception ex)
                {
                    surfaced.Add(ex);
                }
            }
        })));

        Assert.Empty(surfaced);
        await using var check = await dataSource.OpenConnectionAsync();
        var totals = (await check.QueryAsync<long>($"SELECT n FROM {table} ORDER BY id")).ToList();
        Assert.Equal([800L, 800L, 800L, 800L], totals);
        Assert.Contains(harness.Logs.Lines, l => l.Contains("Transaction conflicted", StringComparison.Ordinal)); // there was contention to survive
        // Conflicts reached the connector at COMMIT, as on DSQL; each UPDATE was its transaction's first statement, so
        // the emulator protected it without a savepoint (the cheap path).
        Assert.True(harness.Emulator.ConflictStats.AtCommit > 0, harness.Emulator.ConflictStats.ToString());
        Assert.Equal(0, harness.Emulator.ConflictStats.Savepoints);
    }

    [Fact]
    public async Task The_delegate_and_its_side_effects_run_once_per_attempt()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES (1, 0)");
        var sideEffects = new List<int>();

        int result = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            sideEffects.Add(sideEffects.Count + 1);
            long seen = (long)(await new NpgsqlCommand($"SELECT n FROM {table} WHERE id = 1", connection).ExecuteScalarAsync(token))!;
            if (sideEffects.Count == 1)
            {
                // Another client changes the row after this attempt's snapshot: this attempt must conflict.
                await using var other = await dataSource.OpenConnectionAsync(token);
                await new NpgsqlCommand($"UPDATE {table} SET n = n + 100 WHERE id = 1", other).ExecuteNonQueryAsync(token);
            }
            await new NpgsqlCommand($"UPDATE {table} SET n = {seen + 1} WHERE id = 1", connection).ExecuteNonQueryAsync(token);
            return sideEffects.Count;
        });

        Assert.Equal(2, result);
        Assert.Equal([1, 2], sideEffects);
        await using var check = await dataSource.OpenConnectionAsync();
        Assert.Equal(101L, await check.ExecuteScalarAsync<long>($"SELECT n FROM {table} WHERE id = 1"));
    }

    [Fact]
    public async Task The_guard_cancels_a_transaction_past_its_deadline_and_nothing_commits()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        var options = new DsqlTransactionOptions { Timeout = TimeSpan.FromSeconds(1) };

        var ex = await Assert.ThrowsAsync<DsqlTransactionTimeoutException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 1)", connection).ExecuteNonQueryAsync(token);
            await new NpgsqlCommand("SELECT pg_sleep(30)", connection).ExecuteNonQueryAsync(token);
        }, options));

        Assert.Equal(TimeSpan.FromSeconds(1), ex.Limit);
        Assert.True(ex.Elapsed >= TimeSpan.FromSeconds(1));
        Assert.True(ex.Elapsed < TimeSpan.FromSeconds(25), "the sleeping statement was not cancelled");
        Assert.Contains("nothing was committed", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await CountAsync(dataSource, table));
    }

    [Fact]
    public async Task The_guard_also_stops_work_that_ignores_the_token_before_it_commits()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        await Assert.ThrowsAsync<DsqlTransactionTimeoutException>(() => dataSource.ExecuteInTransactionAsync(async (connection, _) =>
        {
            await new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 1)", connection).ExecuteNonQueryAsync();
            await Task.Delay(1500);
        }, new DsqlTransactionOptions { Timeout = TimeSpan.FromSeconds(1) }));
        Assert.Equal(0L, await CountAsync(dataSource, table));
    }

    [Fact]
    public async Task Crossing_the_row_limit_gives_the_typed_error_and_lands_no_row()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource, "id int");
        var ex = await Assert.ThrowsAsync<DsqlLimitExceededException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
            await new NpgsqlCommand($"INSERT INTO {table} SELECT generate_series(1, 3001)", connection).ExecuteNonQueryAsync(token)));
        Assert.Equal(DsqlLimit.RowsPerTransaction, ex.Limit);
        Assert.Contains("3,000", ex.Message, StringComparison.Ordinal);
        Assert.Equal("54000", Assert.IsType<PostgresException>(ex.InnerException).SqlState);
        Assert.Equal(0L, await CountAsync(dataSource, table));
    }

    [Fact]
    public async Task Ddl_then_dml_in_one_delegate_gives_the_typed_error()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = EmulatorConnections.UniqueName("mixed");
        var ex = await Assert.ThrowsAsync<DsqlUnsupportedFeatureException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await new NpgsqlCommand($"CREATE TABLE {table} (id int)", connection).ExecuteNonQueryAsync(token);
            await new NpgsqlCommand($"INSERT INTO {table} VALUES (1)", connection).ExecuteNonQueryAsync(token);
        }));
        Assert.Equal("0A000", ex.SqlState);
        Assert.Contains("ddl and dml", ex.Message, StringComparison.Ordinal);
        Assert.Contains("own transaction", ex.Advice, StringComparison.Ordinal);
        // Nothing of it landed: the table does not exist.
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(0L, await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = '{table}'"));
    }

    [Fact]
    public async Task Caller_cancellation_stops_retries_at_once()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        // A pooled connection ready, so that the 400 ms go to attempts rather than to a first physical open (slow on a busy machine).
        await using (await dataSource.OpenConnectionAsync())
        {
        }
        int attempts = 0;
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));
        var started = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dataSource.ExecuteInTransactionAsync<int>((_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw new PostgresException("change conflicts with another transaction (OC000)", "ERROR", "ERROR", "40001");
        }, new DsqlTransactionOptions { MaxRetries = 1000, BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(5) }, cancel.Token));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"retries went on for {started.Elapsed} after cancellation");
        Assert.InRange(attempts, 1, 10);
    }

    [Fact]
    public async Task Exhausted_retries_say_how_many_attempts_and_carry_the_last_conflict()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        int attempts = 0;
        var ex = await Assert.ThrowsAsync<DsqlTransactionConflictException>(() => dataSource.ExecuteInTransactionAsync<int>((_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw new InvalidOperationException("wrapped", new PostgresException("schema has been updated by another transaction, please retry: (OC001)", "ERROR", "ERROR", "40001"));
        }, new DsqlTransactionOptions { MaxRetries = 3, BaseDelay = TimeSpan.FromMilliseconds(1) }));
        Assert.Equal(4, attempts);
        Assert.Equal(4, ex.Attempts);
        Assert.Contains("4 attempts", ex.Message, StringComparison.Ordinal);
        Assert.Contains("OC001", ex.LastConflict!.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_lost_during_commit_is_reported_as_ambiguous_and_not_retried()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        int attempts = 0;
        var ex = await Assert.ThrowsAsync<DsqlAmbiguousCommitException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            Interlocked.Increment(ref attempts);
            await new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 1)", connection).ExecuteNonQueryAsync(token);
            // The COMMIT that follows is held back by the emulator and the session is cut while it is in flight.
            harness.Emulator.Faults.Latency = TimeSpan.FromMilliseconds(800);
            _ = Task.Delay(300).ContinueWith(_ => harness.Emulator.Faults.CloseAllSessions(), TaskScheduler.Default);
        }));
        harness.Emulator.Faults.Latency = TimeSpan.Zero;
        Assert.Equal(1, attempts);
        Assert.Contains("may or may not have been committed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_only_work_runs_once_and_returns_its_result()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        int calls = 0;
        long result = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            calls++;
            return (long)(await new NpgsqlCommand("SELECT 40 + 2::bigint", connection).ExecuteScalarAsync(token))!;
        }, new DsqlTransactionOptions { ReadOnly = true });
        Assert.Equal(42L, result);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Single_statement_helper_runs_ddl_and_dml_with_parameters()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        int rows = await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES ($1, $2)", [new() { Value = 7 }, new() { Value = 70L }]);
        Assert.Equal(1, rows);
        Assert.Equal(1L, await CountAsync(dataSource, table));
    }

    [Fact]
    public async Task Invalid_options_name_the_setting()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        var ex = await Assert.ThrowsAsync<DsqlConfigurationException>(() => dataSource.ExecuteInTransactionAsync((_, _) => Task.CompletedTask, new DsqlTransactionOptions { Timeout = TimeSpan.FromSeconds(301) }));
        Assert.Equal("Timeout", ex.Setting);
        Assert.Contains("301", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_npgsql_begin_transaction_without_a_level_is_refused_by_dsql_and_translated_with_advice()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        await using var connection = await dataSource.OpenConnectionAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await new NpgsqlCommand("SELECT 1", connection, transaction).ExecuteScalarAsync();
        });
        Assert.Equal("Unsupported isolation level: READ COMMITTED", ex.MessageText);
        var translated = Assert.IsType<DsqlUnsupportedFeatureException>(DsqlErrors.Translate(ex));
        Assert.Contains("IsolationLevel.RepeatableRead", translated.Advice, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_npgsql_with_repeatable_read_and_dapper_work()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateTableAsync(dataSource);
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead))
        {
            await connection.ExecuteAsync($"INSERT INTO {table} (id, n) VALUES (@Id, @N)", new[] { new { Id = 1, N = 10L }, new { Id = 2, N = 20L } }, transaction);
            await transaction.CommitAsync();
        }
        long sum = await dataSource.ExecuteInTransactionAsync(async (connection, _) =>
            await connection.ExecuteScalarAsync<long>($"SELECT sum(n) FROM {table}"));
        Assert.Equal(30L, sum);
        await using var reader = await dataSource.OpenConnectionAsync();
        var rows = (await reader.QueryAsync<(int Id, long N)>($"SELECT id, n FROM {table} ORDER BY id")).ToList();
        Assert.Equal([(1, 10L), (2, 20L)], rows);
    }
}
