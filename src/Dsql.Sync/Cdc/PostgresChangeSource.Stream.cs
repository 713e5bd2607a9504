using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;

namespace Dsql.Sync.Cdc;

public sealed partial class PostgresChangeSource
{
    /// <summary>How long a stream start waits for a slot that a stopped stream has not yet released.</summary>
    private static readonly TimeSpan SlotReleaseWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Streams the committed transactions of the tables, in commit order, from the slot's confirmed position (or from
    /// <paramref name="fromLsn"/> when it is later: transactions committed before it are skipped by the server).
    /// Decoded from <c>pgoutput</c> (protocol 1): each transaction comes whole, when it commits, with every change in
    /// order; a table's <see cref="ChangeTable"/> is the same instance until its shape changes (a column added or
    /// dropped), then a new one. Nothing is confirmed to the server until <see cref="Acknowledge"/> says so.
    /// </summary>
    /// <param name="fromLsn">
    /// The commit LSN to resume at (a checkpoint's <see cref="ChangePosition.CommitLsn"/>: that transaction is sent again
    /// unless it was acknowledged), or 0 for the slot's confirmed position.
    /// </param>
    /// <param name="cancellationToken">Stops the stream.</param>
    /// <returns>The transactions; stopping the enumeration closes the replication connection.</returns>
    /// <exception cref="InvalidOperationException">Another stream of this instance is running.</exception>
    /// <exception cref="ChangeSourceException">The slot does not exist (call <see cref="SetUpAsync"/>) or another process streams from it.</exception>
    public async IAsyncEnumerable<SourceTransaction> StreamAsync(ulong fromLsn = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var transactions = StreamCoreAsync(fromLsn, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await transactions.MoveNextAsync().ConfigureAwait(false)) break;
                }
                catch (Exception ex) when (_telemetry.Failed(ex))
                {
                    // Never reached: the filter counts the error and lets it go on.
                }
                yield return transactions.Current;
            }
        }
        finally
        {
            await transactions.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async IAsyncEnumerable<SourceTransaction> StreamCoreAsync(ulong fromLsn, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _streaming, 1) != 0)
            throw new InvalidOperationException("This PostgresChangeSource is streaming already: one stream at a time.");
        try
        {
            await using var catalog = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var slot = await WaitForIdleSlotAsync(catalog, SlotReleaseWait, cancellationToken).ConfigureAwait(false);
            if (slot is null)
                throw new ChangeSourceException([new(ChangeSourceProblemKind.Slot, $"Replication slot {_slot} does not exist: call SetUpAsync first (it creates the slot and the snapshot for the full load).")]);
            if (slot.ActivePid is { } pid)
                throw new ChangeSourceException([new(ChangeSourceProblemKind.Slot, $"Replication slot {_slot} is in use by another process (PID {pid}): only one stream may read a slot. Stop the other pipeline, or end it with SELECT pg_terminate_backend({pid}).")]);
            _tracker.Start(slot.Confirmed);

            var replication = new LogicalReplicationConnection(_connectionString) { WalReceiverStatusInterval = _statusInterval };
            await using var _ = replication.ConfigureAwait(false);
            await replication.Open(cancellationToken).ConfigureAwait(false);
            if (_tracker.Confirmed > 0) replication.SetReplicationStatus(new NpgsqlLogSequenceNumber(_tracker.Confirmed));

            // Acknowledgements made while no stream ran are not on the server yet: start after them (the server skips
            // transactions that commit before the start position), then confirm them.
            ulong start = Math.Max(fromLsn, _tracker.Confirmed);
            using var stopReporting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var flowing = new StrongBox<bool>();
            var reporter = ReportStatusAsync(replication, flowing, stopReporting.Token);
            if (_tracker.Confirmed > slot.Confirmed) Signal();
            var messages = replication.StartReplication(new PgOutputReplicationSlot(_slot),
                new PgOutputReplicationOptions(_publication, PgOutputProtocolVersion.V1),
                cancellationToken, start == 0 ? null : new NpgsqlLogSequenceNumber(start)).GetAsyncEnumerator(cancellationToken);
            _telemetry.Started(replication);
            try
            {
                var relations = new Dictionary<uint, RelationShape>();
                List<RowChange> changes = [];
                uint xid = 0;
                while (await messages.MoveNextAsync().ConfigureAwait(false))
                {
                    Volatile.Write(ref flowing.Value, true);
                    _telemetry.Message();
                    switch (messages.Current)
                    {
                        case BeginMessage begin:
                            _tracker.Receiving();
                            changes = [];
                            xid = begin.TransactionXid;
                            break;
                        case RelationMessage relation:
                            relations[relation.RelationId] = await ShapeAsync(relation, relations.GetValueOrDefault(relation.RelationId), catalog, cancellationToken).ConfigureAwait(false);
                            break;
                        case InsertMessage insert:
                        {
                            var shape = relations[insert.Relation.RelationId];
                            changes.Add(new RowChange(ChangeKind.Insert, shape.Table, await ReadRowAsync(insert.NewRow, cancellationToken).ConfigureAwait(false), null));
                            break;
                        }
                        case IndexUpdateMessage update:
                        {
                            var shape = relations[update.Relation.RelationId];
                            var old = await ReadRowAsync(update.Key, cancellationToken).ConfigureAwait(false);
                            var row = await ReadRowAsync(update.NewRow, cancellationToken).ConfigureAwait(false);
                            changes.Add(new RowChange(ChangeKind.Update, shape.Table, row, shape.ChangedKey(old, row)));
                            break;
                        }
                        case FullUpdateMessage update:
                        {
                            var shape = relations[update.Relation.RelationId];
                            var old = await ReadRowAsync(update.OldRow, cancellationToken).ConfigureAwait(false);
                            var row = await ReadRowAsync(update.NewRow, cancellationToken).ConfigureAwait(false);
                            changes.Add(new RowChange(ChangeKind.Update, shape.Table, row, shape.ChangedKey(old, row)));
                            break;
                        }
                        case UpdateMessage update:
                        {
                            var shape = relations[update.Relation.RelationId];
                            changes.Add(new RowChange(ChangeKind.Update, shape.Table, await ReadRowAsync(update.NewRow, cancellationToken).ConfigureAwait(false), null));
                            break;
                        }
                        case KeyDeleteMessage delete:
                        {
                            var shape = relations[delete.Relation.RelationId];
                            changes.Add(new RowChange(ChangeKind.Delete, shape.Table, null, shape.KeyOf(await ReadRowAsync(delete.Key, cancellationToken).ConfigureAwait(false))));
                            break;
                        }
                        case FullDeleteMessage delete:
                        {
                            var shape = relations[delete.Relation.RelationId];
                            changes.Add(new RowChange(ChangeKind.Delete, shape.Table, null, shape.KeyOf(await ReadRowAsync(delete.OldRow, cancellationToken).ConfigureAwait(false))));
                            break;
                        }
                        case TruncateMessage truncate:
                            foreach (var relation in truncate.Relations)
                                changes.Add(new RowChange(ChangeKind.Truncate, relations[relation.RelationId].Table, null, null));
                            break;
                        case CommitMessage commit:
                        {
                            if (changes.Count == 0)
                            {
                                // Nothing of ours (servers before 15 send empty transactions): confirmed when idle.
                                _tracker.Skipped();
                                _telemetry.Empty();
                                break;
                            }
                            ulong commitLsn = (ulong)commit.CommitLsn;
                            var transaction = new SourceTransaction(commitLsn,
                                new DateTimeOffset(DateTime.SpecifyKind(commit.TransactionCommitTimestamp, DateTimeKind.Utc)), xid, changes);
                            _telemetry.Delivered(transaction.CommitTime, changes);
                            changes = [];
                            _tracker.Delivered(commitLsn);
                            yield return transaction;
                            break;
                        }
                        default:
                            // Origin, Type and logical decoding messages carry nothing to apply.
                            break;
                    }
                }
            }
            finally
            {
                _telemetry.Stopped();
                await stopReporting.CancelAsync().ConfigureAwait(false);
                try
                {
                    await reporter.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopped.
                }
                await SendFinalStatusAsync(replication, catalog).ConfigureAwait(false);
                // Ends the replication (Npgsql cancels it and drains the enumerator), then lets the server release the slot.
                await replication.DisposeAsync().ConfigureAwait(false);
                await messages.DisposeAsync().ConfigureAwait(false);
                try
                {
                    await WaitForIdleSlotAsync(catalog, SlotReleaseWait, CancellationToken.None).ConfigureAwait(false);
                }
                catch (NpgsqlException)
                {
                    // The source is gone; nothing to wait for.
                }
            }
        }
        finally
        {
            Volatile.Write(ref _streaming, 0);
        }
    }

    /// <summary>
    /// Sets the position to confirm whenever an acknowledgement moves it (sent at once once messages flow) and every
    /// status interval (Npgsql's own status updates, at the same interval, carry it too).
    /// </summary>
    private async Task ReportStatusAsync(LogicalReplicationConnection replication, StrongBox<bool> flowing, CancellationToken cancellationToken)
    {
        ulong sent = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await _acknowledged.WaitAsync(_statusInterval, cancellationToken).ConfigureAwait(false);
            _tracker.AdvanceWhenIdle((ulong)replication.LastReceivedLsn);
            ulong confirmed = _tracker.Confirmed;
            if (confirmed == 0 || confirmed == sent) continue;
            replication.SetReplicationStatus(new NpgsqlLogSequenceNumber(confirmed));
            // Npgsql's status update is safe only while its replication loop runs (it has started its timers by the
            // first message); before that, its own periodic update sends the position.
            if (!Volatile.Read(ref flowing.Value)) continue;
            try
            {
                await replication.SendStatusUpdate(cancellationToken).ConfigureAwait(false);
                sent = confirmed;
            }
            catch (InvalidOperationException)
            {
                // Not streaming yet (or any more; Npgsql's own status updates carry the position): try again shortly.
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                Signal();
            }
            catch (NpgsqlException)
            {
                // The connection failed; the stream reports it.
            }
            catch (NullReferenceException)
            {
                // Npgsql's replication loop ended between its state check and the update; the stream reports why.
            }
        }
    }

    /// <summary>
    /// Before the connection closes: sends the last acknowledged position and waits (briefly) until the server shows
    /// it, so a stream restarted right after does not receive acknowledged transactions again.
    /// </summary>
    private async Task SendFinalStatusAsync(LogicalReplicationConnection replication, NpgsqlConnection catalog)
    {
        ulong confirmed = _tracker.Confirmed;
        if (confirmed == 0) return;
        try
        {
            replication.SetReplicationStatus(new NpgsqlLogSequenceNumber(confirmed));
            await replication.SendStatusUpdate(CancellationToken.None).ConfigureAwait(false);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (DateTime.UtcNow < deadline)
            {
                var slot = await ReadSlotAsync(catalog, CancellationToken.None).ConfigureAwait(false);
                if (slot is null || slot.Confirmed >= confirmed) return;
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or NpgsqlException or IOException or NullReferenceException)
        {
            // Not streaming any more, or the connection failed (Npgsql has dropped its connector): the server keeps
            // its last confirmed position and sends the rest again, which the consumer's checkpoint recognises. The
            // stream's own exception, if any, is the one that propagates.
        }
    }

    private async Task<ChangeValue[]> ReadRowAsync(ReplicationTuple tuple, CancellationToken cancellationToken)
    {
        var values = new ChangeValue[tuple.NumColumns];
        int i = 0;
        await foreach (var value in tuple.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            values[i++] = value.Kind switch
            {
                TupleDataKind.Null => ChangeValue.Null,
                TupleDataKind.UnchangedToastedValue => ChangeValue.Unchanged,
                TupleDataKind.TextValue => new ChangeValue(await ReadTextAsync(value, _telemetry, cancellationToken).ConfigureAwait(false)),
                _ => throw new NotSupportedException($"pgoutput sent a {value.Kind} column value; the stream asks for text values only."),
            };
        }
        return values;
    }

    private static async Task<string> ReadTextAsync(ReplicationValue value, SourceTelemetry telemetry, CancellationToken cancellationToken)
    {
        int length = value.Length;
        telemetry.Value(length);
        if (length == 0) return "";
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var stream = value.GetStream();
            await using (stream.ConfigureAwait(false))
                await stream.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            // The replication connection's client encoding is UTF-8: pgoutput converts values to it.
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The shape a Relation message announces: column names, <c>format_type</c> of each type (cached) and key flags (for
    /// REPLICA IDENTITY FULL, where the message flags every column, the primary key when there is one). The previous
    /// shape is kept when nothing changed, so that consumers see a new instance only for a new shape.
    /// </summary>
    private async Task<RelationShape> ShapeAsync(RelationMessage relation, RelationShape? previous, NpgsqlConnection catalog, CancellationToken cancellationToken)
    {
        string schema = relation.Namespace, name = relation.RelationName;
        var columns = relation.Columns.Select(c => (c.ColumnName, c.DataTypeId, c.TypeModifier, Key: (c.Flags & RelationMessage.Column.ColumnFlags.PartOfKey) != 0)).ToList();
        HashSet<string>? primaryKey = null;
        if (relation.ReplicaIdentity == RelationMessage.ReplicaIdentitySetting.AllColumns)
            primaryKey = await PrimaryKeyAsync(catalog, relation.RelationId, cancellationToken).ConfigureAwait(false);
        var result = new List<ChangeColumn>(columns.Count);
        foreach (var column in columns)
        {
            string type = await TypeNameAsync(catalog, column.DataTypeId, column.TypeModifier, cancellationToken).ConfigureAwait(false);
            result.Add(new ChangeColumn(column.ColumnName, type, primaryKey?.Contains(column.ColumnName) ?? column.Key));
        }
        if (previous is not null && previous.Table.Schema == schema && previous.Table.Name == name && previous.Table.Columns.SequenceEqual(result))
            return previous;
        return new RelationShape(new ChangeTable(schema, name, result));
    }

    private static async Task<HashSet<string>?> PrimaryKeyAsync(NpgsqlConnection catalog, uint relationId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = $1 AND i.indisprimary
            """, catalog);
        command.Parameters.Add(new NpgsqlParameter { Value = relationId, NpgsqlDbType = NpgsqlDbType.Oid });
        var names = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false)) names.Add(reader.GetString(0));
        return names.Count == 0 ? null : names;
    }

    private async Task<string> TypeNameAsync(NpgsqlConnection catalog, uint oid, int modifier, CancellationToken cancellationToken)
    {
        if (_typeNames.TryGetValue((oid, modifier), out var known)) return known;
        await using var command = new NpgsqlCommand("SELECT format_type($1, $2)", catalog);
        command.Parameters.Add(new NpgsqlParameter { Value = oid, NpgsqlDbType = NpgsqlDbType.Oid });
        command.Parameters.Add(new NpgsqlParameter { Value = modifier, NpgsqlDbType = NpgsqlDbType.Integer });
        string name = (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        _typeNames[(oid, modifier)] = name;
        return name;
    }
}

/// <summary>A table's shape with the positions of its key columns.</summary>
internal sealed class RelationShape
{
    private readonly int[] _key;

    public RelationShape(ChangeTable table)
    {
        Table = table;
        _key = Enumerable.Range(0, table.Columns.Count).Where(i => table.Columns[i].IsKey).ToArray();
    }

    public ChangeTable Table { get; }

    /// <summary>The key values of a row (or of a pgoutput key tuple, which has every column with the others NULL).</summary>
    public ChangeValue[] KeyOf(ChangeValue[] row) => _key.Select(i => row[i]).ToArray();

    /// <summary>The old key when an update changed it (a value the update left untouched is not a change), else null.</summary>
    public ChangeValue[]? ChangedKey(ChangeValue[] old, ChangeValue[] row)
    {
        foreach (int i in _key)
        {
            if (row[i].IsUnchanged || old[i].IsUnchanged) continue;
            if (!string.Equals(row[i].Text, old[i].Text, StringComparison.Ordinal)) return KeyOf(old);
        }
        return null;
    }
}
