using System.Data;
using Dsql.Connector;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Bulk;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>The three input kinds, and chunks that stay within DSQL's limits (the emulator refuses a violation, so a load that succeeds proves it).</summary>
[Collection(BackendCollection.Name)]
public sealed class BulkWriterInputTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    private sealed record Item(int Id, string Name, decimal Amount);

    private static async IAsyncEnumerable<Item> Items(int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (i % 1000 == 0) await Task.Yield();
            yield return new Item(i, "name " + i, i / 100m);
        }
    }

    [Fact]
    public async Task An_async_sequence_of_3001_rows_is_written_in_two_chunks_of_at_most_3000()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "items", "id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2)");
        var progress = new RecordingProgress<BulkProgress>();
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, Parallelism = 2 });

        var result = await writer.WriteAsync(Items(3_001), new BulkColumnMap<Item> { { "id", x => x.Id }, { "name", x => x.Name }, { "amount", x => x.Amount } }, progress);

        Assert.Equal(3_001, result.Rows);
        Assert.Equal(2, result.Chunks);
        Assert.Equal(2, progress.Reports.Count);
        Assert.Equal(3_001, progress.Reports.Max(p => p.Rows));
        Assert.True(result.ChunkLatencyP50 > TimeSpan.Zero && result.ChunkLatencyP99 >= result.ChunkLatencyP50);
        Assert.Equal(3_001L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        Assert.Equal(Enumerable.Range(0, 3_001).Sum(i => i / 100m), await BulkTestEmulator.ScalarAsync<decimal>(dataSource, $"SELECT sum(amount) FROM {table}"));
        Assert.Equal("name 2999", await BulkTestEmulator.ScalarAsync<string>(dataSource, $"SELECT name FROM {table} WHERE id = 2999"));

        // The emulator counts rows: 3,001 in one transaction are refused.
        await Assert.ThrowsAsync<DsqlLimitExceededException>(() => dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} SELECT id + 10000, name, amount FROM {table}"));
    }

    [Fact]
    public async Task A_data_reader_from_a_PostgreSQL_source_is_copied_row_for_row()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "copied", "id bigint PRIMARY KEY, label varchar(40), price numeric(12,2), seen timestamptz, active boolean");

        string database = EmulatorConnections.UniqueName("bulk_source");
        using (var admin = backend.OpenDirect())
        using (var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin)) create.ExecuteNonQuery();
        var sourceString = new NpgsqlConnectionStringBuilder(backend.Cluster.ConnectionString) { Database = database, Pooling = false }.ConnectionString;
        await using var source = new NpgsqlConnection(sourceString);
        await source.OpenAsync();
        await using (var fill = new NpgsqlCommand("""
            CREATE TABLE src (id bigint PRIMARY KEY, label varchar(40), price numeric(12,2), seen timestamptz, active boolean);
            INSERT INTO src SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'label ' || g END, g * 1.25, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', g % 2 = 0
            FROM generate_series(1, 1200) g;
            """, source)) await fill.ExecuteNonQueryAsync();

        await using (var read = new NpgsqlCommand("SELECT id, label, price, seen, active FROM src ORDER BY id", source))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, MaxRowsPerChunk = 500 });
            var result = await writer.WriteAsync(reader);
            Assert.Equal(1_200, result.Rows);
            Assert.Equal(3, result.Chunks);
        }

        const string digest = "SELECT md5(string_agg(concat_ws('|', id, label, price, seen AT TIME ZONE 'UTC', active), ',' ORDER BY id)) FROM ";
        string expected;
        await using (var sum = new NpgsqlCommand(digest + "src", source)) expected = (string)(await sum.ExecuteScalarAsync())!;
        Assert.Equal(expected, await BulkTestEmulator.ScalarAsync<string>(dataSource, digest + table));
        Assert.Equal(171L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table} WHERE label IS NULL"));
    }

    [Fact]
    public async Task A_DataTable_is_written_into_the_named_columns_without_its_deleted_rows()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "fromtable", "id int PRIMARY KEY, note text");
        var data = new DataTable();
        data.Columns.Add("Key", typeof(int));
        data.Columns.Add("Text", typeof(string));
        for (int i = 0; i < 10; i++) data.Rows.Add(i, i == 3 ? DBNull.Value : "note " + i);
        data.AcceptChanges();
        data.Rows[9].Delete();

        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, Columns = ["id", "note"] });
        var result = await writer.WriteAsync(data);

        Assert.Equal(9, result.Rows);
        Assert.Equal(9L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        Assert.Equal(1L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table} WHERE note IS NULL"));
    }

    [Fact]
    public async Task Wide_rows_are_cut_into_chunks_under_10_MiB()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "wide", "id int PRIMARY KEY, body text");
        // 20 rows of ~600 KB of incompressible text: 12 MB in all, which one transaction could not hold.
        var random = new Random(13);
        var rows = Enumerable.Range(0, 20).Select(i =>
        {
            byte[] bytes = new byte[450_000];
            random.NextBytes(bytes);
            return (Id: i, Body: Convert.ToBase64String(bytes));
        }).ToArray();
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, MaxBytesPerChunk = DsqlBulkWriterOptions.DsqlMaxBytesPerTransaction, Parallelism = 2 });

        var result = await writer.WriteAsync(rows.ToAsyncEnumerable(), new BulkColumnMap<(int Id, string Body)> { { "id", r => r.Id }, { "body", r => r.Body } });

        Assert.Equal(20, result.Rows);
        Assert.Equal(2, result.Chunks); // 17 rows fill 10 MiB

        // The emulator counts these bytes: the same rows in one transaction are refused.
        await Assert.ThrowsAsync<DsqlLimitExceededException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var copy = new NpgsqlCommand($"INSERT INTO {table} (id, body) SELECT id + 100, body FROM {table}", connection);
            await copy.ExecuteNonQueryAsync(token);
        }));
        Assert.Equal(rows.Sum(r => (long)r.Body.Length), await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT sum(length(body))::bigint FROM {table}"));
    }

    [Fact]
    public async Task Secondary_indexes_read_from_the_catalog_count_against_the_byte_budget()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "indexed", "id int PRIMARY KEY, a text, b text, UNIQUE (a), UNIQUE (b, id)");
        var rows = Enumerable.Range(0, 1_000).Select(i => (Id: i, A: i.ToString("D900"), B: i.ToString("D900"))).ToArray();
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, MaxBytesPerChunk = 2 * 1024 * 1024 });

        var result = await writer.WriteAsync(rows.ToAsyncEnumerable(), new BulkColumnMap<(int Id, string A, string B)> { { "id", r => r.Id }, { "a", r => r.A }, { "b", r => r.B } });

        // A row is ~1.9 KB of data; with its primary key and two ~0.9 KB index entries, ~3.8 KB: 2 MiB hold ~550 rows.
        Assert.Equal(2, result.Chunks);
        Assert.Equal(1_000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
    }

    [Fact]
    public async Task Many_columns_split_a_chunk_into_statements_under_the_parameter_limit()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string[] columns = Enumerable.Range(0, 30).Select(i => "c" + i).ToArray();
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "many", "id int PRIMARY KEY, " + string.Join(", ", columns.Select(c => c + " int")));
        var map = new BulkColumnMap<int> { { "id", i => i } };
        for (int c = 0; c < columns.Length; c++)
        {
            int column = c;
            map.Add(columns[c], i => i + column);
        }
        var writer = new DsqlBulkWriter(dataSource, new DsqlBulkWriterOptions { Table = table, MaxRowsPerStatement = 3_000 });

        // 3,000 rows x 31 columns = 93,000 parameters: one chunk, two statements.
        var result = await writer.WriteAsync(Enumerable.Range(0, 3_000).ToAsyncEnumerable(), map);

        Assert.Equal(1, result.Chunks);
        Assert.Equal(3_000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table} WHERE c29 = id + 29"));
    }
}
