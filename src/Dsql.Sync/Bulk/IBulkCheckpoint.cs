using Npgsql;

namespace Dsql.Sync.Bulk;

/// <summary>
/// Remembers which chunks of a job are committed, so that a rerun of the same job over the same ordered input skips
/// them. <see cref="RecordAsync"/> runs inside the chunk's own transaction: the record commits with the rows or not
/// at all. <see cref="DsqlTableCheckpoint"/> keeps the records in a DSQL table.
/// </summary>
public interface IBulkCheckpoint
{
    /// <summary>The numbers of the chunks of <paramref name="jobId"/> already committed.</summary>
    Task<IReadOnlySet<long>> GetCommittedChunksAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>
    /// Whether chunk <paramref name="chunk"/> of <paramref name="jobId"/> is recorded, read on
    /// <paramref name="connection"/> inside the chunk's own transaction before it writes. Several writers may share a
    /// job (processes that take over each other's work): a chunk another writer committed meanwhile is skipped, and
    /// two writers racing on one chunk conflict on its record, so one of them retries and then finds it.
    /// </summary>
    Task<bool> IsRecordedAsync(NpgsqlConnection connection, string jobId, long chunk, CancellationToken cancellationToken);

    /// <summary>Records chunk <paramref name="chunk"/> of <paramref name="jobId"/> on <paramref name="connection"/>, inside the chunk's transaction.</summary>
    Task RecordAsync(NpgsqlConnection connection, string jobId, long chunk, int rows, CancellationToken cancellationToken);
}
