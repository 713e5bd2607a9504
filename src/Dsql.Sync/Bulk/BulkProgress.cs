namespace Dsql.Sync.Bulk;

/// <summary>
/// Where a <see cref="DsqlBulkWriter"/> load stands: reported after each committed chunk, and returned when the load
/// ends. Counts cover this run only; chunks skipped because a checkpoint holds them are counted apart.
/// </summary>
public sealed record BulkProgress
{
    /// <summary>Rows committed by this run.</summary>
    public long Rows { get; init; }

    /// <summary>Estimated bytes committed by this run (row data and index entries, the estimate chunks are sized by).</summary>
    public long Bytes { get; init; }

    /// <summary>Chunks committed by this run.</summary>
    public long Chunks { get; init; }

    /// <summary>Chunks skipped because the checkpoint recorded them as committed by an earlier run.</summary>
    public long ChunksSkipped { get; init; }

    /// <summary>Rows in the skipped chunks.</summary>
    public long RowsSkipped { get; init; }

    /// <summary>Time since the load started.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Committed rows per second of <see cref="Elapsed"/>.</summary>
    public double RowsPerSecond => Elapsed > TimeSpan.Zero ? Rows / Elapsed.TotalSeconds : 0;

    /// <summary>Median time of one chunk's transaction, retries included (within 5%).</summary>
    public TimeSpan ChunkLatencyP50 { get; init; }

    /// <summary>95th percentile of chunk latency (within 5%).</summary>
    public TimeSpan ChunkLatencyP95 { get; init; }

    /// <summary>99th percentile of chunk latency (within 5%).</summary>
    public TimeSpan ChunkLatencyP99 { get; init; }
}
