using System.Diagnostics;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>DSQL's quotas as the emulator enforces them, each lowered so that a test reaches it quickly.</summary>
[Collection(BackendCollection.Name)]
public sealed class LimitTests(BackendFixture backend)
{
    private static async Task<int> ScalarAsync(NpgsqlConnection connection, string sql)
        => Convert.ToInt32(await new NpgsqlCommand(sql, connection).ExecuteScalarAsync());

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "condition not reached within 10 s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Connection_rate_beyond_the_burst_is_refused_with_53400()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => { o.ConnectionBurst = 3; o.ConnectionRatePerSecond = 0.01; });
        for (int i = 0; i < 3; i++) await (await EmulatorConnections.OpenAsync(emulator)).DisposeAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator));
        Assert.Equal("53400", ex.SqlState);
        Assert.Equal("Unable to accept connection, rate exceeded.", ex.MessageText);
    }

    [Fact]
    public async Task Open_connections_beyond_the_limit_are_refused_with_53300()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxConnections = 2);
        var first = await EmulatorConnections.OpenAsync(emulator);
        await using var second = await EmulatorConnections.OpenAsync(emulator);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator));
        Assert.Equal("53300", ex.SqlState);
        Assert.Equal("Unable to accept connection, too many open connections.", ex.MessageText);
        await first.DisposeAsync();
        await WaitUntilAsync(() => emulator.OpenSessionCount == 1);
        await using var third = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, await ScalarAsync(third, "SELECT 1"));
    }

    [Fact]
    public async Task Sessions_older_than_the_connection_age_cap_are_closed()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
        emulator.Faults.AdvanceClock(TimeSpan.FromMinutes(61));
        await WaitUntilAsync(() => emulator.OpenSessionCount == 0);
        var ex = await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync(connection, "SELECT 1"));
        if (ex is PostgresException pg)
        {
            Assert.Equal("57P01", pg.SqlState);
            Assert.Contains("connection age limit of 60 minutes", pg.MessageText, StringComparison.Ordinal);
        }
        Assert.NotEqual(System.Data.ConnectionState.Open, connection.State);
    }

    [Fact]
    public async Task A_statement_running_past_the_transaction_age_limit_fails_with_54000_and_nothing_commits()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxTransactionAge = TimeSpan.FromSeconds(1));
        string table = EmulatorConnections.UniqueName("age");
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int)", connection).ExecuteNonQueryAsync();
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await new NpgsqlCommand($"INSERT INTO {table} VALUES (1)", connection, tx).ExecuteNonQueryAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT pg_sleep(30)", connection, tx).ExecuteNonQueryAsync());
        Assert.Equal("54000", ex.SqlState);
        Assert.Equal("transaction age limit of 1s exceeded", ex.MessageText);
        await Assert.ThrowsAsync<PostgresException>(() => tx.CommitAsync());
        Assert.Equal(0, await ScalarAsync(connection, $"SELECT count(*) FROM {table}"));
    }

    [Fact]
    public async Task An_idle_transaction_past_the_age_limit_fails_on_its_next_statement_and_commit()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxTransactionAge = TimeSpan.FromSeconds(300));
        string table = EmulatorConnections.UniqueName("idle");
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int)", connection).ExecuteNonQueryAsync();
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await new NpgsqlCommand($"INSERT INTO {table} VALUES (1)", connection, tx).ExecuteNonQueryAsync();
        // Five minutes pass on the emulator's clock while the client does nothing.
        emulator.Faults.AdvanceClock(TimeSpan.FromSeconds(301));
        await Task.Delay(1500); // many supervision ticks (100 ms each), with room for a loaded machine
        var ex = await Assert.ThrowsAsync<PostgresException>(() => tx.CommitAsync());
        Assert.Equal("54000", ex.SqlState);
        Assert.Equal("transaction age limit of 300s exceeded", ex.MessageText);
        Assert.Equal(0, await ScalarAsync(connection, $"SELECT count(*) FROM {table}"));
    }

    [Fact]
    public async Task An_autocommit_statement_past_the_age_limit_is_cancelled_with_54000()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxTransactionAge = TimeSpan.FromSeconds(1));
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT pg_sleep(30)", connection).ExecuteNonQueryAsync());
        Assert.Equal("54000", ex.SqlState);
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
    }

    [Fact]
    public async Task Crossing_the_row_limit_fails_the_statement_and_lands_no_row()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string table = EmulatorConnections.UniqueName("rows");
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int)", connection).ExecuteNonQueryAsync();

        Assert.Equal(3000, await new NpgsqlCommand($"INSERT INTO {table} SELECT generate_series(1, 3000)", connection).ExecuteNonQueryAsync());
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand($"INSERT INTO {table} SELECT generate_series(1, 3001)", connection).ExecuteNonQueryAsync());
        Assert.Equal("54000", ex.SqlState);
        Assert.Equal("transaction row limit exceeded", ex.MessageText);
        Assert.Null(ex.Where);
        Assert.Equal(3000, await ScalarAsync(connection, $"SELECT count(*) FROM {table}"));

        // In an explicit transaction the rows of all statements count; the one that crosses fails and aborts it.
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        Assert.Equal(3000, await new NpgsqlCommand($"UPDATE {table} SET id = id + 1", connection, tx).ExecuteNonQueryAsync());
        ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand($"DELETE FROM {table} WHERE id = 2", connection, tx).ExecuteNonQueryAsync());
        Assert.Equal("54000", ex.SqlState);
        ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT 1", connection, tx).ExecuteNonQueryAsync());
        Assert.Equal("25P02", ex.SqlState);
        await tx.RollbackAsync();
        Assert.Equal(3000, await ScalarAsync(connection, $"SELECT count(*) FROM {table} WHERE id <= 3000"));
    }

    [Fact]
    public async Task The_row_limit_is_configurable_and_covers_copy()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxRowsPerTransaction = 5);
        string table = EmulatorConnections.UniqueName("copy");
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int)", connection).ExecuteNonQueryAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var writer = await connection.BeginBinaryImportAsync($"COPY {table} (id) FROM STDIN (FORMAT BINARY)");
            for (int i = 0; i < 6; i++) await writer.WriteRowAsync(default, i);
            await writer.CompleteAsync();
        });
        Assert.Equal("54000", ex.SqlState);
        Assert.Equal(0, await ScalarAsync(connection, $"SELECT count(*) FROM {table}"));
    }

    [Fact]
    public async Task Crossing_the_size_limit_fails_with_54000()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxBytesPerTransaction = 1024 * 1024);
        string table = EmulatorConnections.UniqueName("size");
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int, payload text)", connection).ExecuteNonQueryAsync();
        // 600 KB each: incompressible, so PostgreSQL stores (and counts) them at full size.
        const string row = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 19000))";
        Assert.Equal(1, await new NpgsqlCommand($"INSERT INTO {table} SELECT 1, {row}", connection).ExecuteNonQueryAsync());
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand($"INSERT INTO {table} SELECT g, {row} FROM generate_series(1, 2) g", connection).ExecuteNonQueryAsync());
        Assert.Equal("54000", ex.SqlState);
        Assert.Equal("transaction size limit 1mb exceeded", ex.MessageText);
        Assert.Equal(1, await ScalarAsync(connection, $"SELECT count(*) FROM {table}"));
    }

    [Fact]
    public async Task Write_write_conflict_reaches_the_client_as_40001_OC000()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string table = EmulatorConnections.UniqueName("occ");
        await using var first = await EmulatorConnections.OpenAsync(emulator);
        await using var second = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY, n int)", first).ExecuteNonQueryAsync();
        await new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 0)", first).ExecuteNonQueryAsync();

        await using var tx1 = await first.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using var tx2 = await second.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        Assert.Equal(0, await ScalarAsync(second, $"SELECT n FROM {table} WHERE id = 1")); // snapshot taken
        await new NpgsqlCommand($"UPDATE {table} SET n = n + 1 WHERE id = 1", first, tx1).ExecuteNonQueryAsync();
        await tx1.CommitAsync();
        // As on DSQL: the UPDATE is answered, the COMMIT fails (and ends the transaction).
        Assert.Equal(1, await new NpgsqlCommand($"UPDATE {table} SET n = n + 10 WHERE id = 1", second, tx2).ExecuteNonQueryAsync());
        var ex = await Assert.ThrowsAsync<PostgresException>(() => tx2.CommitAsync());
        Assert.Equal("40001", ex.SqlState);
        Assert.Equal("change conflicts with another transaction (OC000)", ex.MessageText);
        Assert.Equal(1, await ScalarAsync(first, $"SELECT n FROM {table} WHERE id = 1"));
        Assert.Equal(0, await ScalarAsync(second, $"SELECT count(*)::int FROM {table} WHERE n >= 10"));
    }

    [Fact]
    public async Task A_writer_blocked_by_an_open_transaction_fails_with_40001_instead_of_waiting()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string table = EmulatorConnections.UniqueName("lock");
        await using var first = await EmulatorConnections.OpenAsync(emulator);
        await using var second = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY, n int)", first).ExecuteNonQueryAsync();
        await new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 0)", first).ExecuteNonQueryAsync();
        await using var tx1 = await first.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await new NpgsqlCommand($"SELECT n FROM {table} WHERE id = 1 FOR UPDATE", first, tx1).ExecuteNonQueryAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand($"UPDATE {table} SET n = 5 WHERE id = 1", second).ExecuteNonQueryAsync());
        Assert.Equal("40001", ex.SqlState);
        Assert.Equal("change conflicts with another transaction (OC000)", ex.MessageText);
        await tx1.CommitAsync();
    }

    [Fact]
    public async Task Transactions_run_at_repeatable_read()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal("repeatable read", await new NpgsqlCommand("SHOW transaction_isolation", connection).ExecuteScalarAsync());
    }
}
