using System.Data;
using System.Text.RegularExpressions;
using Npgsql;
using Npgsql.Replication;

namespace Dsql.Sync.Cdc;

/// <summary>
/// What <see cref="PostgresChangeSource.SetUpAsync"/> found or made: a new slot with the snapshot of its consistent
/// point, or an existing slot to resume. A new slot's snapshot lives as long as this object: run the full load inside
/// <see cref="BeginSnapshotTransactionAsync"/> transactions, then dispose it and start streaming. Rows committed before
/// the slot are in the snapshot, rows committed after it come in the stream: no gap, no overlap.
/// </summary>
public sealed partial class ChangeSourceStart : IAsyncDisposable
{
    private LogicalReplicationConnection? _replication;

    internal ChangeSourceStart(LogicalReplicationConnection? replication, string? snapshotName, ulong startLsn, IReadOnlyList<string> tablesAdded)
    {
        _replication = replication;
        SnapshotName = snapshotName;
        StartLsn = startLsn;
        TablesAdded = tablesAdded;
    }

    /// <summary>Whether the slot was created now (and <see cref="SnapshotName"/> holds its snapshot); false when an existing slot is resumed.</summary>
    public bool SlotCreated => SnapshotName is not null;

    /// <summary>
    /// The exported snapshot of a new slot (<c>SET TRANSACTION SNAPSHOT</c>), usable until this object is disposed;
    /// null when the slot existed (the stream resumes from the slot's confirmed position: no full load is needed).
    /// </summary>
    public string? SnapshotName { get; }

    /// <summary>
    /// Where the stream starts: a new slot's consistent point (the snapshot's position), or an existing slot's
    /// confirmed position. Every transaction the stream delivers commits at or after it.
    /// </summary>
    public ulong StartLsn { get; }

    /// <summary>
    /// Tables (<c>schema.table</c>) added now to a publication that existed already. With an existing slot they had no
    /// full load: their changes stream from now on, their earlier rows must be loaded separately. Empty when the
    /// publication was created now or already had every table.
    /// </summary>
    public IReadOnlyList<string> TablesAdded { get; }

    /// <summary>
    /// Begins a REPEATABLE READ transaction on <paramref name="connection"/> (an ordinary, open connection to the
    /// source database) that sees exactly the slot's snapshot. Any number of connections may import it, for a
    /// parallel load; each transaction keeps the snapshot after this object is disposed.
    /// </summary>
    /// <param name="connection">An open connection to the same database, not in a transaction.</param>
    /// <param name="cancellationToken">Cancels the statements.</param>
    /// <returns>The transaction; commit or roll it back when the load is read.</returns>
    /// <exception cref="InvalidOperationException">The slot existed (there is no snapshot), or this object was disposed.</exception>
    public async Task<NpgsqlTransaction> BeginSnapshotTransactionAsync(NpgsqlConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (SnapshotName is null)
            throw new InvalidOperationException("The replication slot existed already, so there is no snapshot to load from: the stream resumes from the slot's confirmed position.");
        if (_replication is null)
            throw new InvalidOperationException("The slot's snapshot is gone: the ChangeSourceStart that held it was disposed. Import it before disposing.");
        if (!SnapshotNamePattern().IsMatch(SnapshotName))
            throw new InvalidOperationException($"Unexpected snapshot name '{SnapshotName}'.");
        var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand($"SET TRANSACTION SNAPSHOT '{SnapshotName}'", connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes the replication connection that holds a new slot's snapshot (transactions that imported it keep it).</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        var replication = Interlocked.Exchange(ref _replication, null);
        if (replication is not null) await replication.DisposeAsync().ConfigureAwait(false);
    }

    [GeneratedRegex("^[0-9A-Fa-f-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex SnapshotNamePattern();
}
