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
    [InlineData("CREATE TABLE arr_a (id int, tags text[])", "0A000", "datatype text[] not supported")]
    [InlineData("CREATE TABLE money_a (id int, price money)", "0A000", "datatype money not supported")]
    [InlineData("ALTER TABLE {t} ADD COLUMN ip inet", "0A000", "datatype inet not supported")]
    [InlineData("ALTER TABLE {t} ALTER COLUMN n TYPE bigint", "0A000", "unsupported ALTER TABLE ALTER COLUMN ... SET DATA TYPE statement")]
    [InlineData("ALTER TABLE {t} ADD CONSTRAINT n_positive CHECK (n > 0)", "0A000", "unsupported ALTER TABLE ADD CONSTRAINT statement")]
    [InlineData("CREATE INDEX ON {t} (n)", "0A000", "unsupported mode. please use CREATE INDEX ASYNC.")]
    [InlineData("CREATE TABLE ident_a (id int GENERATED ALWAYS AS IDENTITY (CACHE 1))", "0A000", "datatype integer not supported, identity column type must be bigint")]
    [InlineData("CREATE TABLE ident_b (id bigint GENERATED ALWAYS AS IDENTITY)", "0A000", "identity column is not supported without an explicit cache size. please define CACHE greater than or equal to 65536 or equal to 1")]
    [InlineData("CREATE TYPE mood_a AS ENUM ('a')", "0A000", "CREATE TYPE not supported")]
    [InlineData("DROP TYPE IF EXISTS mood_a", "0A000", "unsupported object in DROP statement")]
    [InlineData("SELECT '1.5'::money", "0A000", "datatype money not supported")]
    [InlineData("SELECT to_tsvector('english', 'a b')", "42704", "text search configuration \"english\" does not exist")]
    [InlineData("SELECT * FROM {t} TABLESAMPLE SYSTEM (50)", "0A000", "TABLESAMPLE clause not supported")]
    [InlineData("MERGE INTO {t} USING (SELECT 1 AS id) s ON {t}.id = s.id WHEN MATCHED THEN DELETE", "0A000", "unsupported statement type: MERGE")]
    [InlineData("SHOW lc_collate", "42704", "unrecognized configuration parameter \"lc_collate\"")]
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
        var ex = await RefusedAsync($"CREATE INDEX ASYNC ON {_table} (n)", tx);
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

    [Fact]
    public async Task A_refused_cast_sent_with_parameters_keeps_the_bind_and_refuses()
    {
        await using var command = new NpgsqlCommand("SELECT $1::text::money", _connection);
        command.Parameters.AddWithValue("1.5");
        var ex = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteScalarAsync());
        Assert.Equal("0A000", ex.SqlState);
        Assert.Equal("datatype money not supported", ex.MessageText);
        Assert.Equal(1, await new NpgsqlCommand("SELECT 1", _connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Foreign_keys_are_enforced_and_set_constraints_defers_them_to_commit()
    {
        string parent = EmulatorConnections.UniqueName("fk_parent"), child = EmulatorConnections.UniqueName("fk_child");
        await new NpgsqlCommand($"CREATE TABLE {parent} (id uuid PRIMARY KEY DEFAULT gen_random_uuid())", _connection).ExecuteNonQueryAsync();
        await new NpgsqlCommand($"CREATE TABLE {child} (id bigint PRIMARY KEY, p uuid REFERENCES {parent} (id) DEFERRABLE INITIALLY IMMEDIATE)", _connection).ExecuteNonQueryAsync();
        var missing = Guid.NewGuid();

        var violation = await Assert.ThrowsAsync<PostgresException>(() =>
            new NpgsqlCommand($"INSERT INTO {child} VALUES (1, '{missing}')", _connection).ExecuteNonQueryAsync());
        Assert.Equal("23503", violation.SqlState);

        // Deferred, the child may come first as long as the parent exists at COMMIT.
        await using (var tx = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead))
        {
            await new NpgsqlCommand("SET CONSTRAINTS ALL DEFERRED", _connection, tx).ExecuteNonQueryAsync();
            await new NpgsqlCommand($"INSERT INTO {child} VALUES (2, '{missing}')", _connection, tx).ExecuteNonQueryAsync();
            await new NpgsqlCommand($"INSERT INTO {parent} VALUES ('{missing}')", _connection, tx).ExecuteNonQueryAsync();
            await tx.CommitAsync();
        }

        Assert.Equal(1L, await new NpgsqlCommand($"SELECT count(*) FROM {child}", _connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Columns_of_supported_types_and_runtime_only_casts_work()
    {
        string table = EmulatorConnections.UniqueName("types_ok");
        await new NpgsqlCommand(
            $"CREATE TABLE {table} (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1) PRIMARY KEY, a numeric(1000, 2), b varchar(10), c timestamptz, d jsonb, e json, f bytea, g uuid, h interval, i time with time zone)",
            _connection).ExecuteNonQueryAsync();
        await new NpgsqlCommand($"INSERT INTO {table} (a, d) VALUES (1.25, '{{\"k\": [1, 2]}}')", _connection).ExecuteNonQueryAsync();
        Assert.Equal(2, (int)(await new NpgsqlCommand($"SELECT jsonb_array_length(d -> 'k') FROM {table}", _connection).ExecuteScalarAsync())!);
        Assert.Equal("10.0.0.1", await new NpgsqlCommand("SELECT host('10.0.0.1/8'::inet)", _connection).ExecuteScalarAsync());
        Assert.Equal(new[] { 1, 2 }, (int[])(await new NpgsqlCommand("SELECT '{1,2}'::int[]", _connection).ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task A_numeric_column_without_precision_behaves_as_numeric_18_6()
    {
        string table = EmulatorConnections.UniqueName("numeric_default");
        await new NpgsqlCommand($"CREATE TABLE {table} (id bigint PRIMARY KEY, a numeric)", _connection).ExecuteNonQueryAsync();
        await new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 3.14159265358979)", _connection).ExecuteNonQueryAsync();
        Assert.Equal(3.141593m, await new NpgsqlCommand($"SELECT a FROM {table}", _connection).ExecuteScalarAsync());
        Assert.Equal(18, await new NpgsqlCommand($"SELECT numeric_precision FROM information_schema.columns WHERE table_name = '{table}' AND column_name = 'a'", _connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Dropping_a_primary_key_column_is_refused_and_other_columns_drop()
    {
        string table = EmulatorConnections.UniqueName("drop_pk");
        await new NpgsqlCommand($"CREATE TABLE {table} (a bigint, b bigint, c text, d text, PRIMARY KEY (a, b))", _connection).ExecuteNonQueryAsync();

        var ex = await RefusedAsync($"ALTER TABLE {table} DROP COLUMN b");
        Assert.Equal("0A000", ex.SqlState);
        Assert.Equal("cannot drop primary key column b", ex.MessageText);
        ex = await RefusedAsync($"ALTER TABLE {table} DROP COLUMN c, DROP COLUMN a");
        Assert.Equal("cannot drop primary key column a", ex.MessageText);

        await new NpgsqlCommand($"ALTER TABLE {table} DROP COLUMN c", _connection).ExecuteNonQueryAsync();
        Assert.Equal(3L, await new NpgsqlCommand(
            $"SELECT count(*) FROM information_schema.columns WHERE table_name = '{table}'", _connection).ExecuteScalarAsync());
        Assert.Equal(2L, await new NpgsqlCommand(
            $"SELECT count(*) FROM information_schema.key_column_usage WHERE table_name = '{table}'", _connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Server_version_is_DSQLs_in_show_and_current_setting_over_both_protocols()
    {
        await using (var reader = await new NpgsqlCommand("SHOW server_version", _connection).ExecuteReaderAsync())
        {
            Assert.Equal("server_version", reader.GetName(0));
            Assert.True(await reader.ReadAsync());
            Assert.Equal("16.15", reader.GetString(0));
        }

        Assert.Equal("160015", await new NpgsqlCommand("SELECT current_setting('server_version_num')", _connection).ExecuteScalarAsync());
        await using var batch = new NpgsqlBatch(_connection)
        {
            BatchCommands = { new("SHOW server_version_num"), new("SELECT current_setting('server_version')") },
        };
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal("160015", reader.GetString(0));
            Assert.True(await reader.NextResultAsync());
            Assert.True(await reader.ReadAsync());
            Assert.Equal("16.15", reader.GetString(0));
        }

        Assert.Equal(1, await new NpgsqlCommand("SELECT 1", _connection).ExecuteScalarAsync());
    }
}
