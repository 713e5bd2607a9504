using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// Write-write conflicts as DSQL reports them: the loser's statements are answered as they would have been, and its
/// COMMIT fails with 40001 OC000. Two real sessions through the emulator, run one step at a time on one thread
/// (connection A writes a row, connection B writes it, A commits, B commits): nothing may hang.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class CommitConflictTests(BackendFixture backend)
{
    private const string Oc000 = "change conflicts with another transaction (OC000)";

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return await command.ExecuteNonQueryAsync();
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return await command.ExecuteScalarAsync();
    }

    private static async Task AssertCommitFailsWithOc000Async(NpgsqlConnection connection)
    {
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, "COMMIT"));
        Assert.Equal("40001", ex.SqlState);
        Assert.Equal(Oc000, ex.MessageText);
        // The transaction is over: the session is idle and usable.
        Assert.Equal(1, Convert.ToInt32(await ScalarAsync(connection, "SELECT 1")));
    }

    private async Task<(DsqlEmulator Emulator, string Table)> StartAsync()
    {
        var emulator = await backend.StartEmulatorAsync();
        string table = EmulatorConnections.UniqueName("conflict");
        await using var setup = await EmulatorConnections.OpenAsync(emulator);
        await ExecuteAsync(setup, $"CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL)");
        await ExecuteAsync(setup, $"INSERT INTO {table} VALUES (1, 0), (2, 0), (3, 0)");
        return (emulator, table);
    }

    [Fact]
    public async Task Update_conflict_with_parameters_fails_the_loser_at_commit()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        await ExecuteAsync(a, "BEGIN");
        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, await ExecuteAsync(a, $"UPDATE {table} SET n = $1 WHERE id = $2", 10, 1));
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = $1 WHERE id = $2", 20, 1));
        // The doomed transaction goes on: other statements are answered normally.
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = $1 WHERE id = $2", 20, 2));
        Assert.Equal(0L, await ScalarAsync(b, $"SELECT count(*) FROM {table} WHERE n = 10"));
        await ExecuteAsync(a, "COMMIT");
        await AssertCommitFailsWithOc000Async(b);

        Assert.Equal(10, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 1"));
        Assert.Equal(0, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 2")); // nothing of B committed
        Assert.Equal(1, emulator.ConflictStats.AtCommit);
        Assert.Equal(0, emulator.ConflictStats.AtStatement);
    }

    [Fact]
    public async Task Update_answer_counts_the_rows_the_where_clause_matches_in_the_snapshot()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        await ExecuteAsync(a, "BEGIN");
        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, await ExecuteAsync(a, $"UPDATE {table} SET n = 5 WHERE id = 2"));
        // B's UPDATE matches all three rows; one of them is locked by A.
        Assert.Equal(3, await ExecuteAsync(b, $"UPDATE {table} SET n = n + $1 WHERE id <= $2", 1, 3));
        await ExecuteAsync(a, "COMMIT");
        await AssertCommitFailsWithOc000Async(b);
        Assert.Equal(5L, await ScalarAsync(a, $"SELECT sum(n) FROM {table}"));
    }

    [Fact]
    public async Task Delete_conflict_fails_the_loser_at_commit()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        await ExecuteAsync(a, "BEGIN");
        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, await ExecuteAsync(a, $"UPDATE {table} SET n = 7 WHERE id = 3"));
        Assert.Equal(1, await ExecuteAsync(b, $"DELETE FROM {table} WHERE id = $1", 3));
        await ExecuteAsync(a, "COMMIT");
        await AssertCommitFailsWithOc000Async(b);
        Assert.Equal(7, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 3"));
    }

    [Fact]
    public async Task Insert_of_the_same_key_fails_the_second_writer_at_commit()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        await ExecuteAsync(a, "BEGIN");
        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, await ExecuteAsync(a, $"INSERT INTO {table} (id, n) VALUES ($1, $2)", 9, 1));
        Assert.Equal(2, await ExecuteAsync(b, $"INSERT INTO {table} (id, n) VALUES ($1, $2), (10, 2)", 9, 2));
        await ExecuteAsync(a, "COMMIT");
        await AssertCommitFailsWithOc000Async(b);
        Assert.Equal(1, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 9"));
        Assert.Equal(0L, await ScalarAsync(a, $"SELECT count(*) FROM {table} WHERE id = 10"));
    }

    [Fact]
    public async Task Conflict_over_the_simple_query_protocol_fails_at_commit()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await ConnectRawAsync(emulator);
        await using var b = await ConnectRawAsync(emulator);

        Assert.Equal(["BEGIN", "Z:T"], await QueryAsync(a, "BEGIN"));
        Assert.Equal(["BEGIN", "Z:T"], await QueryAsync(b, "BEGIN"));
        Assert.Equal(["UPDATE 1", "Z:T"], await QueryAsync(a, $"UPDATE {table} SET n = 1 WHERE id = 1"));
        Assert.Equal(["UPDATE 1", "Z:T"], await QueryAsync(b, $"UPDATE {table} SET n = 2 WHERE id = 1;"));
        Assert.Equal(["DELETE 1", "Z:T"], await QueryAsync(b, $"DELETE FROM {table} WHERE id = 1"));
        Assert.Equal(["INSERT 0 2", "Z:T"], await QueryAsync(b, $"INSERT INTO {table} VALUES (20, 0), (21, 0)"));
        Assert.Equal(["COMMIT", "Z:I"], await QueryAsync(a, "COMMIT"));
        Assert.Equal(["E:40001 " + Oc000, "Z:I"], await QueryAsync(b, "COMMIT"));
        Assert.Equal(["UPDATE 1", "Z:I"], await QueryAsync(b, $"UPDATE {table} SET n = n + 1 WHERE id = 1"));
        Assert.Equal(1, emulator.ConflictStats.AtCommit);
    }

    [Fact]
    public async Task First_statement_of_a_transaction_loses_a_conflict_without_a_savepoint_and_fails_at_commit()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        // BeginTransaction sends its BEGIN as a simple query in front of the first command, as the connector does.
        await using var ta = await a.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using var tb = await b.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        Assert.Equal(1, await ExecuteAsync(a, $"UPDATE {table} SET n = $1 WHERE id = $2", 10, 1));
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = n + $1 WHERE id = $2", 20, 1));
        Assert.Equal(0, emulator.ConflictStats.Savepoints);
        // The doomed transaction goes on, in a transaction opened again with the same BEGIN.
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = $1 WHERE id = $2", 20, 2));
        Assert.Equal(1, await ExecuteAsync(b, $"INSERT INTO {table} VALUES ($1, 0)", 40));
        Assert.Equal(1L, await ScalarAsync(b, $"SELECT count(*) FROM {table} WHERE id = 40"));
        Assert.Equal("repeatable read", await ScalarAsync(b, "SHOW transaction_isolation"));
        Assert.Equal(2, emulator.ConflictStats.Savepoints);
        await ta.CommitAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(() => tb.CommitAsync());
        Assert.Equal("40001", ex.SqlState);
        Assert.Equal(Oc000, ex.MessageText);

        Assert.Equal(10, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 1"));
        Assert.Equal(0, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 2")); // nothing of B committed
        Assert.Equal(0L, await ScalarAsync(a, $"SELECT count(*) FROM {table} WHERE id = 40"));
        Assert.Equal(1, emulator.ConflictStats.AtCommit);
        Assert.Equal(0, emulator.ConflictStats.AtStatement);
        // B's session is idle and usable.
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = n + 1 WHERE id = $1", 3));
    }

    [Fact]
    public async Task Statement_after_a_repeated_begin_is_not_the_first_and_keeps_what_ran_before_it()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await ConnectRawAsync(emulator);
        await using var b = await ConnectRawAsync(emulator);

        Assert.Equal(["BEGIN", "Z:T"], await QueryAsync(a, "BEGIN"));
        Assert.Equal(["UPDATE 1", "Z:T"], await QueryAsync(a, $"UPDATE {table} SET n = 1 WHERE id = 1"));
        Assert.Equal(["BEGIN", "Z:T"], await QueryAsync(b, "BEGIN"));
        Assert.Equal(["INSERT 0 1", "Z:T"], await QueryAsync(b, $"INSERT INTO {table} VALUES (30, 0)"));
        // A second BEGIN inside the transaction is only a warning: the next statement is not the transaction's first.
        Assert.Equal(["BEGIN", "Z:T"], await QueryAsync(b, "BEGIN"));
        Assert.Equal(["UPDATE 1", "Z:T"], await QueryAsync(b, $"UPDATE {table} SET n = 2 WHERE id = 1"));
        Assert.Equal(["D:1", "SELECT 1", "Z:T"], await QueryAsync(b, $"SELECT count(*) FROM {table} WHERE id = 30"));
        Assert.Equal(["COMMIT", "Z:I"], await QueryAsync(a, "COMMIT"));
        Assert.Equal(["E:40001 " + Oc000, "Z:I"], await QueryAsync(b, "COMMIT"));
        Assert.Equal(["D:0", "SELECT 1", "Z:I"], await QueryAsync(b, $"SELECT count(*) FROM {table} WHERE id = 30"));
    }

    /// <summary>A raw protocol client signed in as admin over TLS, for what Npgsql never sends (simple-Query BEGIN, ...).</summary>
    private static async Task<RawPgClient> ConnectRawAsync(DsqlEmulator emulator)
    {
        var endpoint = emulator.Endpoints[0];
        var client = await RawPgClient.ConnectAsync(endpoint);
        await client.StartTlsAsync(endpoint);
        await client.SendStartupAsync(("user", "admin"), ("database", "postgres"));
        await client.AuthenticateAsync(TestTokens.For(emulator, endpoint));
        return client;
    }

    /// <summary>Sends a simple Query and returns what came back: command tags, errors as "E:state message", "Z:status".</summary>
    private static async Task<List<string>> QueryAsync(RawPgClient client, string sql)
    {
        await client.SendQueryAsync(sql);
        var answers = new List<string>();
        while (true)
        {
            var message = await client.ReadMessageAsync() ?? throw new Xunit.Sdk.XunitException("the emulator closed the connection");
            switch (message.Type)
            {
                case 'C':
                    answers.Add(System.Text.Encoding.UTF8.GetString(message.Body, 0, message.Body.Length - 1));
                    break;
                case 'D':
                    // The first column of a data row, in text.
                    int length = message.ReadInt32(2);
                    answers.Add("D:" + (length < 0 ? "null" : System.Text.Encoding.UTF8.GetString(message.Body, 6, length)));
                    break;
                case 'E':
                    var fields = message.ErrorFields();
                    answers.Add($"E:{fields['C']} {fields['M']}");
                    break;
                case 'Z':
                    answers.Add("Z:" + (char)message.Body[0]);
                    return answers;
            }
        }
    }

    [Fact]
    public async Task Statement_whose_answer_cannot_be_reproduced_fails_at_the_statement_and_is_counted()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        await ExecuteAsync(a, "BEGIN");
        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, await ExecuteAsync(a, $"UPDATE {table} SET n = 1 WHERE id = 1"));
        // RETURNING would need the rows themselves.
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(b, $"UPDATE {table} SET n = 2 WHERE id = $1 RETURNING n", 1));
        Assert.Equal("40001", ex.SqlState);
        Assert.Equal(Oc000, ex.MessageText);
        await ExecuteAsync(b, "ROLLBACK");
        await ExecuteAsync(a, "COMMIT");
        Assert.Equal(0, emulator.ConflictStats.AtCommit);
        Assert.Equal(1, emulator.ConflictStats.AtStatement);
    }

    [Fact]
    public async Task Autocommit_statement_fails_at_the_statement_which_is_its_commit()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        await ExecuteAsync(a, "BEGIN");
        Assert.Equal(1, await ExecuteAsync(a, $"UPDATE {table} SET n = 1 WHERE id = 1"));
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(b, $"UPDATE {table} SET n = 2 WHERE id = $1", 1));
        Assert.Equal("40001", ex.SqlState);
        Assert.Equal(Oc000, ex.MessageText);
        await ExecuteAsync(a, "COMMIT");
        Assert.Equal(1, emulator.ConflictStats.InAutocommit);
        Assert.Equal(0, emulator.ConflictStats.AtCommit);
    }

    [Fact]
    public async Task Transaction_without_conflict_commits_through_the_savepoints()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using (var transaction = await a.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead))
        {
            for (int i = 0; i < 5; i++) Assert.Equal(1, await ExecuteAsync(a, $"UPDATE {table} SET n = n + 1 WHERE id = $1", 1));
            Assert.Equal(1, await ExecuteAsync(a, $"DELETE FROM {table} WHERE id = $1", 2));
            await transaction.CommitAsync();
        }
        // The first UPDATE followed the BEGIN with nothing between: it needed no savepoint; the five later ones did.
        Assert.Equal(5, emulator.ConflictStats.Savepoints);
        Assert.Equal(5, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 1"));
        Assert.Equal(0L, await ScalarAsync(a, $"SELECT count(*) FROM {table} WHERE id = 2"));
        // The user's own SAVEPOINT stays refused.
        await using var b = await EmulatorConnections.OpenAsync(emulator);
        await ExecuteAsync(b, "BEGIN");
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(b, "SAVEPOINT s"));
        Assert.Equal("0A000", ex.SqlState);
    }

    [Fact]
    public async Task Table_changed_by_a_committed_ddl_fails_the_transaction_with_OC001_at_commit()
    {
        var (emulator, table) = await StartAsync();
        await using var _ = emulator;
        await using var a = await EmulatorConnections.OpenAsync(emulator);
        await using var b = await EmulatorConnections.OpenAsync(emulator);

        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, Convert.ToInt32(await ScalarAsync(b, "SELECT 1"))); // B's snapshot
        await ExecuteAsync(a, $"ALTER TABLE {table} ADD COLUMN note text");
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = 9 WHERE id = $1", 1));
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(b, "COMMIT"));
        Assert.Equal("40001", ex.SqlState);
        Assert.Equal("schema has been updated by another transaction, please retry: (OC001)", ex.MessageText);
        Assert.Equal(0, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 1"));
        Assert.Equal(1, emulator.ConflictStats.SchemaChanged);

        // A transaction that began after the DDL commits; so does one on another table.
        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = 9 WHERE id = $1", 1));
        await ExecuteAsync(b, "COMMIT");
        string other = EmulatorConnections.UniqueName("other");
        await ExecuteAsync(a, $"CREATE TABLE {other} (id int PRIMARY KEY)");
        await ExecuteAsync(b, "BEGIN");
        Assert.Equal(1, Convert.ToInt32(await ScalarAsync(b, "SELECT 1")));
        await ExecuteAsync(a, $"ALTER TABLE {other} ADD COLUMN note text");
        Assert.Equal(1, await ExecuteAsync(b, $"UPDATE {table} SET n = 10 WHERE id = $1", 1));
        await ExecuteAsync(b, "COMMIT");
        Assert.Equal(10, await ScalarAsync(a, $"SELECT n FROM {table} WHERE id = 1"));
        Assert.Equal(1, emulator.ConflictStats.SchemaChanged);
    }
}
