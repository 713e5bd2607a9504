using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>Statements DSQL refuses are refused through the emulator with DSQL's SQLSTATE and wording.</summary>
[Collection(BackendCollection.Name)]
public sealed class RefusedStatementTests(BackendFixture backend) : IAsyncLifetime
{
    private DsqlEmulator _emulator = null!;
    private NpgsqlConnection _connection = null!;
    private readonly string _table = EmulatorConnections.UniqueName("refused");

    public async Task InitializeAsync()
    {
        _emulator = await backend.StartEmulatorAsync();
        _connection = await EmulatorConnections.OpenAsync(_emulator);
        await new NpgsqlCommand($"CREATE TABLE {_table} (id int PRIMARY KEY, n int)", _connection).ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    private async Task<PostgresException> RefusedAsync(string sql, NpgsqlTransaction? tx = null)
        => await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand(sql.Replace("{t}", _table, StringComparison.Ordinal), _connection, tx).ExecuteNonQueryAsync());

    [Theory]
    [InlineData("DISCARD ALL", "0A000", "unsupported statement: Discard")]
    [InlineData("DISCARD PLANS", "0A000", "unsupported statement: Discard")]
    [InlineData("LISTEN channel_a", "0A000", "unsupported statement: Listen")]
    [InlineData("NOTIFY channel_a", "0A000", "unsupported statement: Notify")]
    [InlineData("UNLISTEN *", "0A000", "unsupported statement: Unlisten")]
    [InlineData("CREATE TEMPORARY TABLE temp_a (id int)", "0A000", "TEMPORARY or TEMP table not supported for CREATE TABLE")]
    [InlineData("CREATE TEMP TABLE temp_b (id int)", "0A000", "TEMPORARY or TEMP table not supported for CREATE TABLE")]
    [InlineData("TRUNCATE {t}", "0A000", "unsupported statement: Truncate")]
    [InlineData("LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE", "0A000", "unsupported statement: Lock")]
    [InlineData("SELECT pg_advisory_lock(42)", "0A000", "function pg_advisory_lock not supported")]
    [InlineData("SELECT pg_try_advisory_xact_lock(42)", "0A000", "function pg_try_advisory_xact_lock not supported")]
    [InlineData("BEGIN ISOLATION LEVEL SERIALIZABLE", "0A000", "Unsupported isolation level: SERIALIZABLE")]
    [InlineData("BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED", "0A000", "Unsupported isolation level: READ COMMITTED")]
    [InlineData("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "0A000", "setting configuration parameter \"TRANSACTION\" not supported")]
    [InlineData("SET statement_timeout = 5", "0A000", "setting configuration parameter \"statement_timeout\" not supported")]
    [InlineData("SET default_transaction_isolation = 'serializable'", "0A000", "setting configuration parameter \"default_transaction_isolation\" not supported")]
    [InlineData("PREPARE TRANSACTION 'tx1'", "0A000", "unsupported transaction statement: PREPARE TRANSACTION")]
    [InlineData("VACUUM {t}", "0A000", "unsupported VACUUM statement")]
    [InlineData("CREATE EXTENSION IF NOT EXISTS pgcrypto", "0A000", "unsupported statement: CreateExtension")]
    [InlineData("CREATE TABLE serial_a (id serial PRIMARY KEY)", "42704", "type \"serial\" does not exist")]
    [InlineData("SELECT id FROM {t} FOR SHARE", "0A000", "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported")]
    [InlineData("DO $$ BEGIN PERFORM 1; END $$", "0A000", "unsupported statement: Do")]
    public async Task Refused_outside_a_transaction_without_aborting_anything(string sql, string sqlState, string message)
    {
        var ex = await RefusedAsync(sql);
        Assert.Equal(sqlState, ex.SqlState);
        Assert.Equal(message, ex.MessageText);
        Assert.Null(ex.Where); // the emulator's helper function stays out of sight
        Assert.Equal(1, await new NpgsqlCommand("SELECT 1", _connection).ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("SAVEPOINT sp1", "unsupported transaction statement: SAVEPOINT")]
    [InlineData("RELEASE SAVEPOINT sp1", "unsupported transaction statement: RELEASE")]
    [InlineData("ROLLBACK TO SAVEPOINT sp1", "unsupported transaction statement: ROLLBACK TO")]
    [InlineData("SET TRANSACTION READ ONLY", "setting configuration parameter \"TRANSACTION\" not supported")]
    public async Task Refused_inside_a_transaction_aborts_it(string sql, string message)
    {
        await using var tx = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await new NpgsqlCommand($"INSERT INTO {_table} VALUES (1, 1)", _connection, tx).ExecuteNonQueryAsync();
        var ex = await RefusedAsync(sql, tx);
        Assert.Equal("0A000", ex.SqlState);
        Assert.Equal(message, ex.MessageText);
        var aborted = await RefusedAsync("SELECT 1", tx);
        Assert.Equal("25P02", aborted.SqlState);
        await tx.RollbackAsync();
        Assert.Equal(0L, await new NpgsqlCommand($"SELECT count(*) FROM {_table}", _connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Ddl_then_dml_in_one_transaction_is_refused()
    {
        await using var tx = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        string other = EmulatorConnections.UniqueName("ddl");
        await new NpgsqlCommand($"CREATE TABLE {other} (id int)", _connection, tx).ExecuteNonQueryAsync();
        var ex = await RefusedAsync($"INSERT INTO {other} VALUES (1)", tx);
        Assert.Equal("0A000", ex.SqlState);
        Assert.Equal("ddl and dml are not supported in the same transaction", ex.MessageText);
        await tx.RollbackAsync();
    }

    [Fact]
    public async Task Dml_then_ddl_in_one_transaction_is_refused()
    {
        await using var tx = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await new NpgsqlCommand($"INSERT INTO {_table} VALUES (2, 2)", _connection, tx).ExecuteNonQueryAsync();
        var ex = await RefusedAsync($"CREATE INDEX ON {_table} (n)", tx);
        Assert.Equal("ddl and dml are not supported in the same transaction", ex.MessageText);
        await tx.RollbackAsync();
    }

    [Fact]
    public async Task Two_ddl_statements_in_one_transaction_are_refused_and_neither_lands()
    {
        string a = EmulatorConnections.UniqueName("ddl_a"), b = EmulatorConnections.UniqueName("ddl_b");
        var ex = await RefusedAsync($"CREATE TABLE {a} (id int); CREATE TABLE {b} (id int)");
        Assert.Equal("0A000", ex.SqlState);
        Assert.Equal("multiple ddl statements not supported in a transaction", ex.MessageText);
        Assert.Equal(0L, await new NpgsqlCommand($"SELECT count(*) FROM pg_class WHERE relname IN ('{a}', '{b}')", _connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Ddl_and_dml_in_separate_transactions_work()
    {
        string other = EmulatorConnections.UniqueName("ok");
        await new NpgsqlCommand($"CREATE TABLE {other} (id int)", _connection).ExecuteNonQueryAsync();
        Assert.Equal(1, await new NpgsqlCommand($"INSERT INTO {other} VALUES (1)", _connection).ExecuteNonQueryAsync());
        var job = (string)(await new NpgsqlCommand($"CREATE INDEX ASYNC {other}_idx ON {other} (id)", _connection).ExecuteScalarAsync())!;
        Assert.Equal(1L, await new NpgsqlCommand($"SELECT count(*) FROM pg_indexes WHERE indexname = '{other}_idx'", _connection).ExecuteScalarAsync());
        Assert.Equal(true, await new NpgsqlCommand($"CALL sys.wait_for_job('{job}')", _connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_refused_statement_with_parameters_still_binds_and_fails_cleanly()
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_lock($1)", _connection);
        command.Parameters.Add(new NpgsqlParameter { Value = 42L });
        var ex = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.Equal("0A000", ex.SqlState);
        Assert.Equal("function pg_advisory_lock not supported", ex.MessageText);
        Assert.Equal(1, await new NpgsqlCommand("SELECT 1", _connection).ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("SET search_path = public")]
    [InlineData("SET TIME ZONE 'UTC'")]
    [InlineData("SET extra_float_digits = 3")]
    [InlineData("SET DateStyle = 'ISO, MDY'")]
    [InlineData("BEGIN ISOLATION LEVEL REPEATABLE READ; COMMIT")]
    [InlineData("SELECT id FROM {t} FOR UPDATE")]
    [InlineData("SELECT id FROM {t} FOR KEY SHARE")]
    [InlineData("DEALLOCATE ALL")]
    public async Task Statements_dsql_accepts_go_through(string sql)
    {
        var failure = await Record.ExceptionAsync(() => new NpgsqlCommand(sql.Replace("{t}", _table, StringComparison.Ordinal), _connection).ExecuteNonQueryAsync());
        Assert.Null(failure);
        Assert.Equal(System.Data.ConnectionState.Open, _connection.State);
    }
}
