using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Bulk;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>Insert, insert-ignore and upsert; a conflict retried; cancellation and a rerun with the checkpoint.</summary>
[Collection(BackendCollection.Name)]
public sealed class BulkWriterModeTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    private static readonly BulkColumnMap<(int Id, string Value)> Map = new() { { "id", r => r.Id }, { "value", r => r.Value } };

    private static IAsyncEnumerable<(int Id, string Value)> Rows(int from, int count, string value)
        => Enumerable.Range(from, count).Select(i => (i, value)).ToAsyncEnumerable();

    private async Task<(Connector.DsqlDataSource DataSource, string Table)> TableWithRows0To9Async()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "modes", "id int PRIMARY KEY, value text NOT NULL");
        await new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table }).WriteAsync(Rows(0, 10, "old"), Map);
        return (dataSource, table);
    }

    [Fact]
    public async Task Insert_stops_at_an_existing_key_and_names_the_chunk()
    {
        var (dataSource, table) = await TableWithRows0To9Async();
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, MaxRowsPerChunk = 5, Parallelism = 1 });

        var error = await Assert.ThrowsAsync<DsqlBulkWriteException>(() => writer.WriteAsync(Rows(10, 10, "new").Concat(Rows(5, 1, "dup")), Map));

        Assert.Equal(2, error.Chunk); // chunks 0 and 1 hold ids 10..19; chunk 2 is the duplicate alone
        Assert.Equal(10, error.FirstRow);
        Assert.Equal("23505", Assert.IsType<PostgresException>(error.InnerException).SqlState);
        Assert.Equal(20L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
    }

    [Fact]
    public async Task Binary_COPY_writes_whole_chunks_with_their_checkpoint_records()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "copied", "id int PRIMARY KEY, value text NOT NULL");
        string checkpointTable = EmulatorConnections.UniqueName("checkpoints");
        var checkpoint = new DsqlTableCheckpoint(dataSource, checkpointTable);
        await checkpoint.EnsureCreatedAsync();
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, WireFormat = BulkWireFormat.BinaryCopy, JobId = "copy", Checkpoint = checkpoint });

        var result = await writer.WriteAsync(Rows(0, 3_001, "copied"), Map);

        Assert.Equal(2, result.Chunks);
        Assert.Equal(3_001L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table} WHERE value = 'copied'"));
        Assert.Equal(3_001L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT sum(row_count)::bigint FROM {checkpointTable}"));
        var refused = Assert.Throws<ArgumentException>(() => new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, WireFormat = BulkWireFormat.BinaryCopy, Mode = BulkWriteMode.Upsert }));
        Assert.Equal(nameof(DsqlBulkWriterOptions.WireFormat), refused.ParamName);
    }

    [Fact]
    public async Task InsertIgnore_keeps_existing_rows_and_adds_the_new_ones()
    {
        var (dataSource, table) = await TableWithRows0To9Async();
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, Mode = BulkWriteMode.InsertIgnore });

        await writer.WriteAsync(Rows(5, 10, "new"), Map);

        Assert.Equal(15L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        Assert.Equal(10L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table} WHERE value = 'old'"));
    }

    [Fact]
    public async Task Upsert_replaces_rows_by_primary_key_read_from_the_catalog()
    {
        var (dataSource, table) = await TableWithRows0To9Async();
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, Mode = BulkWriteMode.Upsert });

        await writer.WriteAsync(Rows(5, 10, "new"), Map);

        Assert.Equal(15L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        Assert.Equal(5L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table} WHERE value = 'old'"));
    }

    [Fact]
    public async Task Upsert_into_a_table_without_a_primary_key_is_refused_naming_the_option()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "nokey", "id int, value text");
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, Mode = BulkWriteMode.Upsert });

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => writer.WriteAsync(Rows(0, 1, "x"), Map));
        Assert.Contains("DsqlBulkWriterOptions.PrimaryKey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_chunk_that_conflicts_is_run_again_and_committed_once()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "conflict", "id int PRIMARY KEY, value text NOT NULL");
        // Two columns and 10 parameters a statement: a chunk of 10 rows is two statements. Between them another
        // session commits row 7, which the chunk's second statement then writes: a write-write conflict.
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, Mode = BulkWriteMode.Upsert, MaxParametersPerStatement = 10, Parallelism = 1 });
        var attempts = new List<int>();
        writer.AfterFirstStatement = async (_, chunk, attempt, token) =>
        {
            attempts.Add(attempt);
            if (attempt > 1) return;
            await using var other = await dataSource.OpenConnectionAsync(token);
            await using var insert = new NpgsqlCommand($"INSERT INTO {table} VALUES (7, 'other')", other);
            await insert.ExecuteNonQueryAsync(token);
        };

        var result = await writer.WriteAsync(Rows(0, 10, "bulk"), Map);

        Assert.Equal([1, 2], attempts);
        Assert.Equal(10, result.Rows);
        Assert.Equal(10L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table} WHERE value = 'bulk'"));
    }

    [Fact]
    public async Task Cancelling_leaves_whole_chunks_and_a_rerun_with_the_checkpoint_writes_each_row_once()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "resume", "id int PRIMARY KEY, value text NOT NULL");
        string checkpointTable = EmulatorConnections.UniqueName("checkpoints");
        var checkpoint = new DsqlTableCheckpoint(dataSource, checkpointTable);
        await checkpoint.EnsureCreatedAsync();
        var options = new DsqlBulkWriterOptions { Table = table, MaxRowsPerChunk = 100, Parallelism = 2, JobId = "job-1", Checkpoint = checkpoint };

        using var cancel = new CancellationTokenSource();
        var twoCommitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new RecordingProgress<BulkProgress> { OnReport = p => { if (p.Chunks >= 2) twoCommitted.TrySetResult(); } };
        async IAsyncEnumerable<(int Id, string Value)> CancelledMidway()
        {
            for (int i = 0; i < 1_000; i++)
            {
                if (i == 550)
                {
                    await twoCommitted.Task.WaitAsync(TimeSpan.FromSeconds(10));
                    await cancel.CancelAsync();
                }
                yield return (i, "v" + i);
            }
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new DsqlBulkWriter(dataSource, options).WriteAsync(CancelledMidway(), Map, progress, cancel.Token));

        // Only whole chunks: each block of 100 ids is all there or all absent, and each one there is in the checkpoint.
        long stored = await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}");
        Assert.Equal(0L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM (SELECT id / 100 FROM {table} GROUP BY 1 HAVING count(*) <> 100) partial"));
        Assert.InRange(stored, 200, 600);
        Assert.Equal(stored / 100, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {checkpointTable} WHERE job_id = 'job-1'"));

        // The rerun with the whole input: plain INSERT would fail on any row written twice.
        var rerun = await new DsqlBulkWriter(dataSource, options).WriteAsync(Enumerable.Range(0, 1_000).Select(i => (i, "v" + i)).ToAsyncEnumerable(), Map);

        Assert.Equal(stored / 100, rerun.ChunksSkipped);
        Assert.Equal(1_000 - stored, rerun.Rows);
        Assert.Equal(1_000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(DISTINCT id) FROM {table}"));
        Assert.Equal(10L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {checkpointTable} WHERE job_id = 'job-1'"));
    }
}
