using System.Data;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// <see cref="EmulatorFaults.CutSessionsAtCommit"/>: a session cut exactly when it sends COMMIT, before or after the
/// database commits, as a network failure during COMMIT would.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class CommitCutTests(BackendFixture backend)
{
    private static async Task<string> CreateTableAsync(DsqlEmulator emulator)
    {
        string table = EmulatorConnections.UniqueName("cut");
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY)", connection).ExecuteNonQueryAsync();
        return table;
    }

    private static async Task<long> CountAsync(DsqlEmulator emulator, string table)
    {
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        return (long)(await new NpgsqlCommand($"SELECT count(*) FROM {table}", connection).ExecuteScalarAsync())!;
    }

    /// <summary>Inserts one row in a transaction and commits it; returns what COMMIT threw, or null.</summary>
    private static async Task<Exception?> InsertAndCommitAsync(DsqlEmulator emulator, string table, int id)
    {
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        await new NpgsqlCommand($"INSERT INTO {table} VALUES ({id})", connection, transaction).ExecuteNonQueryAsync();
        try
        {
            await transaction.CommitAsync();
            return null;
        }
        catch (Exception ex)
        {
            Assert.NotEqual(ConnectionState.Open, connection.State);
            return ex;
        }
    }

    [Fact]
    public async Task A_cut_before_commit_drops_the_connection_and_nothing_is_committed()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string table = await CreateTableAsync(emulator);
        emulator.Faults.CutSessionsAtCommit(1, CommitCutPoint.BeforeCommit);

        var ex = await InsertAndCommitAsync(emulator, table, 1);

        var npgsql = Assert.IsAssignableFrom<NpgsqlException>(ex);
        Assert.IsNotType<PostgresException>(npgsql); // a network failure: no server error
        Assert.Equal(1, emulator.Faults.CommitsCut);
        Assert.Equal(0L, await CountAsync(emulator, table));
    }

    [Fact]
    public async Task A_cut_after_commit_drops_the_connection_and_the_row_is_committed()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string table = await CreateTableAsync(emulator);
        emulator.Faults.CutSessionsAtCommit(1, CommitCutPoint.AfterCommit);

        var ex = await InsertAndCommitAsync(emulator, table, 1);

        var npgsql = Assert.IsAssignableFrom<NpgsqlException>(ex);
        Assert.IsNotType<PostgresException>(npgsql);
        Assert.Equal(1L, await CountAsync(emulator, table));
    }

    [Fact]
    public async Task Only_the_armed_number_of_commits_is_cut_and_statements_outside_a_transaction_are_not()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string table = await CreateTableAsync(emulator);
        emulator.Faults.CutSessionsAtCommit(1);

        // Autocommit statements and a COMMIT outside a transaction are left alone.
        await using (var connection = await EmulatorConnections.OpenAsync(emulator))
        {
            await new NpgsqlCommand($"INSERT INTO {table} VALUES (1)", connection).ExecuteNonQueryAsync();
            await new NpgsqlCommand("COMMIT", connection).ExecuteNonQueryAsync(); // a warning, no transaction
            Assert.Equal(0, emulator.Faults.CommitsCut);
        }

        Assert.NotNull(await InsertAndCommitAsync(emulator, table, 2));
        Assert.Null(await InsertAndCommitAsync(emulator, table, 3));
        Assert.Equal(1, emulator.Faults.CommitsCut);
        Assert.Equal(2L, await CountAsync(emulator, table)); // rows 1 and 3
    }

    [Fact]
    public async Task Zero_disarms_and_bad_arguments_are_refused()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string table = await CreateTableAsync(emulator);
        emulator.Faults.CutSessionsAtCommit(3);
        emulator.Faults.CutSessionsAtCommit(0);
        Assert.Null(await InsertAndCommitAsync(emulator, table, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => emulator.Faults.CutSessionsAtCommit(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => emulator.Faults.CutSessionsAtCommit(1, (CommitCutPoint)7));
        Assert.Equal(0, emulator.Faults.CommitsCut);
    }
}
