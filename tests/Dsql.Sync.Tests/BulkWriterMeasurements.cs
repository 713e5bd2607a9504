using System.Diagnostics;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Bulk;
using Npgsql;
using NpgsqlTypes;
using Xunit.Abstractions;

namespace Dsql.Sync.Tests;

/// <summary>Runs only when DSQL_SYNC_MEASURE=1 (it takes ~15 s): the figures of docs/loading.md, "Bulk writer".</summary>
public sealed class MeasureFactAttribute : FactAttribute
{
    public MeasureFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("DSQL_SYNC_MEASURE") != "1") Skip = "A measurement: set DSQL_SYNC_MEASURE=1 to run it.";
    }
}

/// <summary>
/// Rows/s of the wire forms through the emulator: 60,000 rows of 6 columns (the shape), parallelism 1 and 4,
/// through the writer, and a bare binary COPY per 3,000-row transaction for reference.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class BulkWriterMeasurements(BackendFixture backend, BulkTestEmulator emulator, ITestOutputHelper output) : IClassFixture<BulkTestEmulator>
{
    private sealed record R(int Id, long B, string T, decimal N, DateTime Ts, bool F);

    private static R[] Data(int n) => Enumerable.Range(0, n).Select(i => new R(i, i * 7L, "text value number " + i.ToString("D22"), i / 100m, new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(i), i % 2 == 0)).ToArray();

    [MeasureFact]
    public async Task Wire_forms_rows_per_second()
    {
        var ds = await emulator.DataSourceAsync(backend);
        const int n = 60_000;
        var data = Data(n);
        const string cols = "id int PRIMARY KEY, b bigint, t text, n numeric(12,2), ts timestamptz, f boolean";
        var map = new BulkColumnMap<R> { { "id", r => r.Id }, { "b", r => r.B }, { "t", r => r.T }, { "n", r => r.N }, { "ts", r => r.Ts }, { "f", r => r.F } };
        foreach (var (p, f) in new[] { (1, BulkWireFormat.MultiRowInsert), (4, BulkWireFormat.MultiRowInsert), (1, BulkWireFormat.BinaryCopy), (4, BulkWireFormat.BinaryCopy) })
        {
            string table = await BulkTestEmulator.CreateTableAsync(ds, "m", cols);
            var sw = Stopwatch.StartNew();
            var res = await new DsqlBulkWriter(ds, new DsqlBulkWriterOptions { Table = table, Parallelism = p, WireFormat = f }).WriteAsync(data.ToAsyncEnumerable(), map);
            output.WriteLine($"{f} writer P={p}: {n / sw.Elapsed.TotalSeconds:F0} rows/s p50={res.ChunkLatencyP50.TotalMilliseconds:F0}ms p99={res.ChunkLatencyP99.TotalMilliseconds:F0}ms");
        }
        foreach (int p in new[] { 1, 4 })
        {
            string table = await BulkTestEmulator.CreateTableAsync(ds, "c", cols);
            var sw = Stopwatch.StartNew();
            var chunks = data.Chunk(3000).ToArray();
            int next = -1;
            await Task.WhenAll(Enumerable.Range(0, p).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < chunks.Length)
                {
                    await ds.ExecuteInTransactionAsync(async (c, t) =>
                    {
                        await using var w = await c.BeginBinaryImportAsync($"COPY {table} (id, b, t, n, ts, f) FROM STDIN (FORMAT BINARY)", t);
                        foreach (var r in chunks[i])
                        {
                            await w.StartRowAsync(t);
                            await w.WriteAsync(r.Id, NpgsqlDbType.Integer, t); await w.WriteAsync(r.B, NpgsqlDbType.Bigint, t); await w.WriteAsync(r.T, NpgsqlDbType.Text, t);
                            await w.WriteAsync(r.N, NpgsqlDbType.Numeric, t); await w.WriteAsync(r.Ts, NpgsqlDbType.TimestampTz, t); await w.WriteAsync(r.F, NpgsqlDbType.Boolean, t);
                        }
                        await w.CompleteAsync(t);
                    });
                }
            }));
            output.WriteLine($"bare COPY per transaction P={p}: {n / sw.Elapsed.TotalSeconds:F0} rows/s");
        }
    }
}
