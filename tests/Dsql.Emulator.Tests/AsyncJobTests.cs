using System.Text;
using System.Text.RegularExpressions;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// DSQL's asynchronous DDL jobs through the emulator: CREATE INDEX ASYNC and ALTER TABLE ASYNC ... VALIDATE
/// CONSTRAINT return a job id and run in the background, sys.jobs shows them, sys.wait_for_job waits for them.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed partial class AsyncJobTests(BackendFixture backend) : IAsyncLifetime
{
    /// <summary>Long enough that a job is surely still running when the next statement arrives.</summary>
    private static readonly TimeSpan LongJob = TimeSpan.FromSeconds(30);

    private DsqlEmulator _emulator = null!;
    private NpgsqlConnection _connection = null!;
    private readonly string _table = EmulatorConnections.UniqueName("jobs");

    public async Task InitializeAsync()
    {
        _emulator = await backend.StartEmulatorAsync(o => o.MinimumJobDuration = TimeSpan.Zero);
        _connection = await EmulatorConnections.OpenAsync(_emulator);
        await ExecuteAsync($"CREATE TABLE {_table} (id int PRIMARY KEY, n int)");
        await ExecuteAsync($"INSERT INTO {_table} SELECT g, g % 7 FROM generate_series(1, 500) g");
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    [GeneratedRegex("^[a-z2-7]{25}[aeimquy4]$")]
    private static partial Regex JobIdShape();

    private Task<int> ExecuteAsync(string sql, NpgsqlConnection? connection = null)
        => new NpgsqlCommand(sql, connection ?? _connection).ExecuteNonQueryAsync();

    private async Task<T> ScalarAsync<T>(string sql, NpgsqlConnection? connection = null)
        => (T)(await new NpgsqlCommand(sql, connection ?? _connection).ExecuteScalarAsync())!;

    private async Task<string> SubmitAsync(string sql, NpgsqlConnection? connection = null)
    {
        await using var reader = await new NpgsqlCommand(sql, connection ?? _connection).ExecuteReaderAsync();
        Assert.Equal(1, reader.FieldCount);
        Assert.Equal("job_id", reader.GetName(0));
        Assert.True(await reader.ReadAsync());
        string id = reader.GetString(0);
        Assert.False(await reader.ReadAsync());
        Assert.Matches(JobIdShape(), id);
        return id;
    }

    private async Task<bool> WaitForJobAsync(string id, NpgsqlConnection? connection = null)
    {
        await using var command = new NpgsqlCommand("CALL sys.wait_for_job($1)", connection ?? _connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.Equal("succeeded", reader.GetName(0));
        Assert.True(await reader.ReadAsync());
        return reader.GetBoolean(0);
    }

    private async Task<(string Status, string JobType, string? Details, string? ObjectName)> JobAsync(string id)
    {
        await using var command = new NpgsqlCommand("SELECT status, job_type, details, object_name FROM sys.jobs WHERE job_id = $1", _connection);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"job {id} is not in sys.jobs");
        return (reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    private async Task<bool?> IndexValidAsync(string index)
        => await new NpgsqlCommand($"SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('{index}')", _connection).ExecuteScalarAsync() as bool?;

    [Fact]
    public async Task Create_index_async_returns_a_job_id_and_builds_the_index_in_the_background()
    {
        string index = _table + "_n_idx";
        string id = await SubmitAsync($"CREATE INDEX ASYNC {index} ON {_table} (n)");

        Assert.NotNull(await IndexValidAsync(index)); // in the catalog once the submitting transaction has ended
        Assert.True(await WaitForJobAsync(id));
        Assert.True(await IndexValidAsync(index));
        var job = await JobAsync(id);
        Assert.Equal(("completed", "INDEX_BUILD", null, "public." + index), job);
        Assert.Equal(1L, await ScalarAsync<long>($"SELECT count(*) FROM sys.jobs WHERE job_id = '{id}' AND class_id = 'pg_class'::regclass AND object_id = '{index}'::regclass AND update_time >= start_time"));

        // The index holds the table's rows: the planner answers from it alone.
        await using var direct = backend.OpenDirect();
        await new NpgsqlCommand("SET enable_seqscan = off; SET enable_bitmapscan = off", direct).ExecuteNonQueryAsync();
        string plan = string.Join("\n", await ReadAllAsync(new NpgsqlCommand($"EXPLAIN SELECT n FROM {_table} WHERE n = 3", direct)));
        Assert.Contains($"Index Only Scan using {index}", plan, StringComparison.Ordinal);
        Assert.Equal(500L, await ScalarAsync<long>($"SELECT count(*) FROM {_table} WHERE n >= 0", direct));
    }

    [Fact]
    public async Task The_job_id_rides_on_the_create_index_result_with_dsqls_command_tag()
    {
        // As recorded on DSQL: BEGIN; CREATE INDEX ASYNC ...; COMMIT answers BEGIN, CREATE INDEX (column job_id), COMMIT.
        await using var client = await ConnectRawAsync();
        await client.SendQueryAsync($"BEGIN; CREATE INDEX ASYNC {_table}_raw ON {_table} (n); COMMIT");
        var tags = new List<string>();
        var columns = new List<string>();
        string? jobId = null;
        while (true)
        {
            var message = await client.ReadMessageAsync() ?? throw new Xunit.Sdk.XunitException("connection closed");
            Assert.NotEqual('E', message.Type);
            Assert.NotEqual('N', message.Type); // the emulator's marker notice never reaches the client
            if (message.Type == 'C') tags.Add(Encoding.UTF8.GetString(message.Body, 0, message.Body.Length - 1));
            if (message.Type == 'T') columns.Add(Encoding.UTF8.GetString(message.Body, 2, Array.IndexOf(message.Body, (byte)0, 2) - 2));
            if (message.Type == 'D') jobId = Encoding.UTF8.GetString(message.Body, 6, message.ReadInt32(2));
            if (message.Type == 'Z') break;
        }
        Assert.Equal(["BEGIN", "CREATE INDEX", "COMMIT"], tags);
        Assert.Equal(["job_id"], columns);
        Assert.Matches(JobIdShape(), jobId);
        Assert.True(await WaitForJobAsync(jobId!));
    }

    [Fact]
    public async Task A_unique_index_over_duplicate_rows_fails_its_job_and_stays_invalid()
    {
        string index = _table + "_dup";
        string id = await SubmitAsync($"CREATE UNIQUE INDEX ASYNC {index} ON {_table} (n)");
        Assert.False(await WaitForJobAsync(id));
        var job = await JobAsync(id);
        Assert.Equal("failed", job.Status);
        Assert.Contains($"could not create unique index \"{index}\"", job.Details, StringComparison.Ordinal);
        Assert.False(await IndexValidAsync(index)); // DSQL leaves a failed build's index in place, not valid
    }

    [Fact]
    public async Task A_unique_index_over_distinct_rows_succeeds_and_enforces_uniqueness()
    {
        string table = EmulatorConnections.UniqueName("codes"), index = table + "_code";
        await ExecuteAsync($"CREATE TABLE {table} (id int PRIMARY KEY, code int)");
        await ExecuteAsync($"INSERT INTO {table} SELECT g, g FROM generate_series(1, 50) g");
        string id = await SubmitAsync($"CREATE UNIQUE INDEX ASYNC IF NOT EXISTS {index} ON {table} (code)");
        Assert.True(await WaitForJobAsync(id));
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync($"INSERT INTO {table} VALUES (51, 7)"));
        Assert.Equal("23505", ex.SqlState);
        Assert.Equal(index, ex.ConstraintName);
    }

    [Fact]
    public async Task A_rolled_back_submission_leaves_no_job_and_no_index()
    {
        string index = _table + "_rb";
        await using var tx = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        string id;
        await using (var reader = await new NpgsqlCommand($"CREATE INDEX ASYNC {index} ON {_table} (n)", _connection, tx).ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            id = reader.GetString(0);
        }
        // Inside its transaction the job is submitted; no one else sees it before COMMIT.
        Assert.Equal("submitted", await new NpgsqlCommand($"SELECT status FROM sys.jobs WHERE job_id = '{id}'", _connection, tx).ExecuteScalarAsync());
        await using (var other = await EmulatorConnections.OpenAsync(_emulator))
        {
            Assert.Equal(0L, await ScalarAsync<long>($"SELECT count(*) FROM sys.jobs WHERE job_id = '{id}'", other));
        }
        await tx.RollbackAsync();
        Assert.Equal(0L, await ScalarAsync<long>($"SELECT count(*) FROM sys.jobs WHERE job_id = '{id}'"));
        Assert.Null(await IndexValidAsync(index));
    }

    [Fact]
    public async Task Jobs_are_processing_until_they_finish_and_every_role_can_read_sys_jobs()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MinimumJobDuration = LongJob);
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        string index = _table + "_slow";
        string id = await SubmitAsync($"CREATE INDEX ASYNC {index} ON {_table} (n)", connection);

        string reader = EmulatorConnections.UniqueName("jobs_reader");
        await using (var direct = backend.OpenDirect())
            await new NpgsqlCommand($"CREATE ROLE {reader} LOGIN", direct).ExecuteNonQueryAsync();
        await using var readerConnection = await EmulatorConnections.OpenAsync(emulator, reader);
        Assert.Equal("processing", await ScalarAsync<string>($"SELECT status FROM sys.jobs WHERE job_id = '{id}'", readerConnection));
        Assert.False(await ScalarAsync<bool>($"SELECT indisvalid FROM pg_index WHERE indexrelid = '{index}'::regclass", connection));

        // Reads and writes on the table go on while the index builds.
        Assert.Equal(500L, await ScalarAsync<long>($"SELECT count(*) FROM {_table}", connection));
        Assert.Equal(1, await ExecuteAsync($"INSERT INTO {_table} VALUES (1001, 3)", connection));

        // Dropping the index cancels the build.
        await ExecuteAsync($"DROP INDEX {index}", connection);
        Assert.False(await WaitForJobAsync(id, connection));
        Assert.Equal("cancelled", await ScalarAsync<string>($"SELECT status FROM sys.jobs WHERE job_id = '{id}'", readerConnection));
        Assert.Null(await IndexValidAsync(index));
        await ExecuteAsync($"DELETE FROM {_table} WHERE id = 1001", connection);
    }

    [Fact]
    public async Task Dropping_the_table_cancels_its_unfinished_builds()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MinimumJobDuration = LongJob);
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        string table = EmulatorConnections.UniqueName("dropped");
        await ExecuteAsync($"CREATE TABLE {table} (id int PRIMARY KEY, a int)", connection);
        string id = await SubmitAsync($"CREATE INDEX ASYNC {table}_a ON {table} (a)", connection);
        await ExecuteAsync($"DROP TABLE {table}", connection);
        Assert.False(await WaitForJobAsync(id, connection));
        Assert.Equal("cancelled", (await JobAsync(id)).Status);
    }

    [Fact]
    public async Task A_unique_constraint_over_an_index_still_building_fails_with_55000()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MinimumJobDuration = TimeSpan.FromSeconds(2));
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        string index = _table + "_pk_uq";
        string id = await SubmitAsync($"CREATE UNIQUE INDEX ASYNC {index} ON {_table} (id)", connection);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync($"ALTER TABLE {_table} ADD CONSTRAINT {index} UNIQUE USING INDEX {index}", connection));
        Assert.Equal("55000", ex.SqlState);
        Assert.Equal($"index \"{index}\" is not valid", ex.MessageText);

        Assert.True(await WaitForJobAsync(id, connection));
        await ExecuteAsync($"ALTER TABLE {_table} ADD CONSTRAINT {index} UNIQUE USING INDEX {index}", connection);
        Assert.Equal(1L, await ScalarAsync<long>($"SELECT count(*) FROM pg_constraint WHERE conname = '{index}' AND contype = 'u'", connection));
    }

    [Fact]
    public async Task Alter_table_async_validates_a_constraint_as_a_job()
    {
        await ExecuteAsync($"ALTER TABLE {_table} ADD CONSTRAINT {_table}_n_ok CHECK (n >= 0) NOT VALID");
        string id = await SubmitAsync($"ALTER TABLE ASYNC {_table} VALIDATE CONSTRAINT {_table}_n_ok");
        Assert.True(await WaitForJobAsync(id));
        Assert.True(await ScalarAsync<bool>($"SELECT convalidated FROM pg_constraint WHERE conname = '{_table}_n_ok'"));
        var job = await JobAsync(id);
        Assert.Equal(("completed", "VALIDATE_CONSTRAINT"), (job.Status, job.JobType));
    }

    [Fact]
    public async Task A_validation_over_violating_rows_fails_its_job_and_the_constraint_stays_not_valid()
    {
        string constraint = _table + "_n_big";
        await ExecuteAsync($"ALTER TABLE {_table} ADD CONSTRAINT {constraint} CHECK (n > 3) NOT VALID");
        string id = await SubmitAsync($"ALTER TABLE ASYNC {_table} VALIDATE CONSTRAINT {constraint}");
        Assert.False(await WaitForJobAsync(id));
        var job = await JobAsync(id);
        Assert.Equal("failed", job.Status);
        Assert.Equal($"check constraint \"{constraint}\" of relation \"{_table}\" is violated by some row", job.Details);
        Assert.False(await ScalarAsync<bool>($"SELECT convalidated FROM pg_constraint WHERE conname = '{constraint}'"));
        await ExecuteAsync($"ALTER TABLE {_table} DROP CONSTRAINT {constraint}");
    }

    [Fact]
    public async Task Submissions_are_checked_at_once()
    {
        var missing = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync("CREATE INDEX ASYNC nowhere_idx ON no_such_table (n)"));
        Assert.Equal("42P01", missing.SqlState);
        Assert.Equal("relation \"no_such_table\" does not exist", missing.MessageText);

        await SubmitAsync($"CREATE INDEX ASYNC {_table}_twice ON {_table} (n)");
        var taken = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync($"CREATE INDEX ASYNC {_table}_twice ON {_table} (id)"));
        Assert.Equal("42P07", taken.SqlState);
        Assert.Null(taken.Where);

        var noConstraint = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync($"ALTER TABLE ASYNC {_table} VALIDATE CONSTRAINT nope"));
        Assert.Equal("42704", noConstraint.SqlState);
        Assert.Equal($"constraint \"nope\" of relation \"{_table}\" does not exist", noConstraint.MessageText);
    }

    [Theory]
    [InlineData("CALL sys.wait_for_job('no-such-job')", "22P02", "Unable to convert text to UUID")]
    [InlineData("CALL sys.wait_for_job('3IM2I7ESZJGXTGZ6QKU7DC5RV4')", "22P02", "Unable to convert text to UUID")]
    [InlineData("CALL sys.wait_for_job('aaaaaaaaaaaaaaaaaaaaaaaaaa')", "42704", "job aaaaaaaaaaaaaaaaaaaaaaaaaa does not exist")]
    [InlineData("SELECT sys.wait_for_job('aaaaaaaaaaaaaaaaaaaaaaaaaa')", "42809", "sys.wait_for_job(unknown) is a procedure")]
    public async Task Wait_for_job_refuses_what_dsql_refuses(string sql, string sqlState, string message)
    {
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(sql));
        Assert.Equal(sqlState, ex.SqlState);
        Assert.Equal(message, ex.MessageText);
        Assert.Null(ex.Where);
        Assert.Equal(1, await ScalarAsync<int>("SELECT 1"));
    }

    [Fact]
    public async Task Wait_for_job_is_refused_inside_a_transaction_block()
    {
        string id = await SubmitAsync($"CREATE INDEX ASYNC {_table}_tx ON {_table} (n)");
        await using var tx = await _connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand($"CALL sys.wait_for_job('{id}')", _connection, tx).ExecuteNonQueryAsync());
        Assert.Equal("0A000", ex.SqlState);
        await tx.RollbackAsync();
        Assert.True(await WaitForJobAsync(id));
    }

    [Fact]
    public async Task Wait_for_job_is_refused_with_other_statements_in_one_query()
    {
        // One simple query with several statements is one implicit transaction block.
        string id = await SubmitAsync($"CREATE INDEX ASYNC {_table}_multi ON {_table} (n)");
        await using var client = await ConnectRawAsync();
        await client.SendQueryAsync($"SELECT 1; CALL sys.wait_for_job('{id}')");
        RawPgMessage? message;
        do message = await client.ReadMessageAsync();
        while (message is not null && message.Type is not ('E' or 'Z'));
        Assert.Equal('E', message?.Type);
        Assert.Equal("0A000", message!.ErrorFields()['C']);
        Assert.True(await WaitForJobAsync(id));
    }

    [Fact]
    public async Task A_job_runs_as_the_role_that_submitted_it()
    {
        string owner = EmulatorConnections.UniqueName("job_owner"), stranger = EmulatorConnections.UniqueName("job_stranger");
        string table = EmulatorConnections.UniqueName("owned");
        await using (var direct = backend.OpenDirect())
        {
            await new NpgsqlCommand($"CREATE ROLE {owner} LOGIN; CREATE ROLE {stranger} LOGIN", direct).ExecuteNonQueryAsync();
            await new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY, a int); ALTER TABLE {table} OWNER TO {owner}", direct).ExecuteNonQueryAsync();
        }
        await using (var ownerWithoutCreate = await EmulatorConnections.OpenAsync(_emulator, owner))
        {
            // An index lives in its table's schema: creating one needs CREATE there, checked when the job is submitted.
            var denied = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync($"CREATE INDEX ASYNC {table}_a ON {table} (a)", ownerWithoutCreate));
            Assert.Equal("42501", denied.SqlState);
            Assert.Equal("permission denied for schema public", denied.MessageText);
        }
        await using (var direct = backend.OpenDirect())
            await new NpgsqlCommand($"GRANT CREATE ON SCHEMA public TO {owner}", direct).ExecuteNonQueryAsync();
        await using var ownerConnection = await EmulatorConnections.OpenAsync(_emulator, owner);
        string id = await SubmitAsync($"CREATE INDEX ASYNC {table}_a ON {table} (a)", ownerConnection);
        bool ok = await WaitForJobAsync(id, ownerConnection);
        Assert.True(ok, (await JobAsync(id)).ToString());
        Assert.True(await IndexValidAsync($"{table}_a"));

        await using var strangerConnection = await EmulatorConnections.OpenAsync(_emulator, stranger);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync($"CREATE INDEX ASYNC {table}_b ON {table} (a)", strangerConnection));
        Assert.Equal("42501", ex.SqlState);
        Assert.Equal($"must be owner of table {table}", ex.MessageText);
    }

    [Fact]
    public async Task An_unnamed_index_gets_postgresql_s_name_in_sys_jobs()
    {
        string table = EmulatorConnections.UniqueName("unnamed");
        await ExecuteAsync($"CREATE TABLE {table} (id int PRIMARY KEY, a int, b int)");
        string id = await SubmitAsync($"CREATE INDEX ASYNC ON {table} (a, b)");
        Assert.True(await WaitForJobAsync(id));
        Assert.Equal($"public.{table}_a_b_idx", (await JobAsync(id)).ObjectName);
        Assert.True(await IndexValidAsync($"{table}_a_b_idx"));
    }

    private async Task<RawPgClient> ConnectRawAsync()
    {
        var endpoint = _emulator.Endpoints[0];
        var client = await RawPgClient.ConnectAsync(endpoint);
        await client.StartDirectTlsAsync(endpoint);
        await client.SendStartupAsync(("user", "admin"), ("database", "postgres"));
        await client.AuthenticateAsync(TestTokens.For(_emulator, endpoint));
        return client;
    }

    private static async Task<List<string>> ReadAllAsync(NpgsqlCommand command)
    {
        var lines = new List<string>();
        await using (command)
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) lines.Add(reader.GetString(0));
        return lines;
    }
}
