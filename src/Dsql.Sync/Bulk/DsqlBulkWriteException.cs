namespace Dsql.Sync.Bulk;

/// <summary>
/// A chunk could not be written: its transaction was rolled back (or, for a <c>DsqlAmbiguousCommitException</c>
/// inside, may have committed). Chunks committed before it stay committed, and with a checkpoint a rerun skips them.
/// The inner exception is the connector's error as raised.
/// </summary>
public sealed class DsqlBulkWriteException : Exception
{
    /// <summary>Creates the exception for chunk <paramref name="chunk"/>, whose first row is input row <paramref name="firstRow"/>.</summary>
    public DsqlBulkWriteException(string message, long chunk, long firstRow, BulkProgress progress, Exception innerException)
        : base(message, innerException)
    {
        Chunk = chunk;
        FirstRow = firstRow;
        Progress = progress;
    }

    /// <summary>The number of the chunk that failed (0-based, in input order).</summary>
    public long Chunk { get; }

    /// <summary>The 0-based position in the input of the failed chunk's first row.</summary>
    public long FirstRow { get; }

    /// <summary>What the load had committed when it stopped.</summary>
    public BulkProgress Progress { get; }
}
