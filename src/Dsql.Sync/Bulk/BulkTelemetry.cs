using System.Diagnostics.Metrics;

namespace Dsql.Sync.Bulk;

/// <summary>
/// The bulk writer's instruments on the <c>Dsql.Sync</c> meter. Tags carry the table name only; never a value,
/// a token or a secret.
/// </summary>
internal static class BulkTelemetry
{
    public const string TableTag = "dsql.table";

    public static readonly Meter Meter = new(SyncInfo.TelemetryName);

    public static readonly Counter<long> Rows = Meter.CreateCounter<long>("dsql.sync.bulk.rows", "{row}", "Rows committed by bulk writers.");
    public static readonly Counter<long> Bytes = Meter.CreateCounter<long>("dsql.sync.bulk.bytes", "By", "Estimated bytes (rows and index entries) committed by bulk writers.");
    public static readonly Counter<long> Chunks = Meter.CreateCounter<long>("dsql.sync.bulk.chunks", "{chunk}", "Chunks (transactions) committed by bulk writers.");
    public static readonly Counter<long> ChunksSkipped = Meter.CreateCounter<long>("dsql.sync.bulk.chunks.skipped", "{chunk}", "Chunks skipped because a checkpoint recorded them as committed.");
    public static readonly Histogram<double> ChunkDuration = Meter.CreateHistogram<double>("dsql.sync.bulk.chunk.duration", "s", "Time to write and commit one chunk, retries included.");
}
