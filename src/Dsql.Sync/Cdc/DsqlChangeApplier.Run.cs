using System.Diagnostics;
using System.Text.Json;
using Dsql.Connector;
using Npgsql;

namespace Dsql.Sync.Cdc;

public sealed partial class DsqlChangeApplier
{
    /// <summary>One change to apply (or, with no change, a source transaction with nothing left to apply), and the position after it.</summary>
    private sealed record Item(SourceTransaction Transaction, int Index, RowChange? Change, ChangeStatements? Statements, List<NpgsqlBatchCommand> Commands, int Rows, long Bytes)
    {
        public ChangePosition After => new(Transaction.CommitLsn, Index + 1 > Transaction.Changes.Count ? Transaction.Changes.Count : Index + 1, Index + 1 >= Transaction.Changes.Count);

        public string Describe() => Change is null
            ? $"transaction {Transaction.TransactionId} at {ChangePosition.Lsn(Transaction.CommitLsn)}"
            : $"{Change.Kind} on {Change.Table} (change {Index} of transaction {Transaction.TransactionId} at {ChangePosition.Lsn(Transaction.CommitLsn)})";
    }

    /// <summary>A batch that failed: the index of the item whose statement failed (the item count when the position or COMMIT failed).</summary>
    private sealed record Failure(int Index, Exception Error);

    /// <summary>One <see cref="ApplyAsync"/> run: the batch being gathered, the shapes seen, the counters.</summary>
    private sealed class Run(DsqlChangeApplier applier, Func<ChangePosition, CancellationToken, ValueTask>? committed, IProgress<ChangeApplyProgress>? progress, ChangePosition start, CancellationToken cancellationToken)
    {
        private readonly DsqlChangeApplierOptions _options = applier._options;
        private readonly Dictionary<ChangeTable, ChangeStatements> _shapes = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(string, string), ChangeTarget> _targets = new();
        private int _rows;
        private long _bytes, _changes, _transactions, _deadLetters;
        private ulong _lastLsn;
        private TimeSpan _lag;

        public List<Item> Pending { get; } = new();

        /// <summary>The last position committed (or read at the start).</summary>
        public ChangePosition Position { get; private set; } = start;

        private long MaxBytes => _options.MaxBytesPerTransaction - ReservedBytes;

        public async Task AddAsync(SourceTransaction transaction)
        {
            ArgumentNullException.ThrowIfNull(transaction);
            if (transaction.CommitLsn < _lastLsn)
                throw new ArgumentException($"The stream went back from {ChangePosition.Lsn(_lastLsn)} to {ChangePosition.Lsn(transaction.CommitLsn)}: source transactions must come in commit order.", "stream");
            _lastLsn = transaction.CommitLsn;
            for (int i = 0; i < transaction.Changes.Count; i++)
            {
                if (Position.Covers(transaction.CommitLsn, i)) continue;
                var change = transaction.Changes[i];
                ChangeStatements statements;
                Item item;
                try
                {
                    statements = await StatementsForAsync(change.Table, transaction, i).ConfigureAwait(false);
                    if (change.Kind == ChangeKind.Truncate)
                    {
                        await FlushAsync().ConfigureAwait(false);
                        await TruncateAsync(new Item(transaction, i, change, statements, [], 0, 0)).ConfigureAwait(false);
                        continue;
                    }
                    item = Prepare(transaction, i, change, statements);
                }
                catch (ChangeApplyException)
                {
                    // Stop at the change: what came before it is committed, so the stored position names it.
                    await FlushAsync().ConfigureAwait(false);
                    throw;
                }
                if (Pending.Count > 0 && (Pending.Count >= _options.MaxChangesPerTransaction || _rows + item.Rows > MaxRows || _bytes + item.Bytes > MaxBytes))
                    await FlushAsync().ConfigureAwait(false);
                Pending.Add(item);
                _rows += item.Rows;
                _bytes += item.Bytes;
            }
            // A transaction with nothing (left) to apply still moves the position, so the source can be told.
            if (transaction.Changes.Count == 0 && !Position.Covers(transaction.CommitLsn, 0))
                Pending.Add(new Item(transaction, 0, null, null, [], 0, 0));
            if (Pending.Count >= _options.MaxChangesPerTransaction) await FlushAsync().ConfigureAwait(false);
        }

        private Item Prepare(SourceTransaction transaction, int index, RowChange change, ChangeStatements statements)
        {
            if (change.Kind != ChangeKind.Insert && statements.CannotUpdateOrDelete is { } why)
                throw Refuse($"cannot apply {change.Kind}: {why}.", transaction, index, change, null);
            if (change.Kind is ChangeKind.Insert or ChangeKind.Update && change.NewValues?.Count != change.Table.Columns.Count)
                throw Refuse($"the change carries {change.NewValues?.Count ?? 0} values for {change.Table.Columns.Count} columns.", transaction, index, change, null);
            if (change.Kind == ChangeKind.Delete && change.OldKey is null)
                throw Refuse("the delete carries no key.", transaction, index, change, null);
            var (commands, rows, bytes) = statements.Build(change);
            return new Item(transaction, index, change, statements, commands, rows, bytes);
        }

        private ChangeApplyException Refuse(string reason, SourceTransaction transaction, int index, RowChange? change, Exception? inner, string? sqlState = null)
        {
            string what = change is null ? "" : $"{change.Kind} on {change.Table} ";
            return new ChangeApplyException(
                $"The change applier stopped at {what}(change {index} of source transaction {transaction.TransactionId} committed at {ChangePosition.Lsn(transaction.CommitLsn)}): {reason}",
                change?.Table.ToString(), change?.Kind, transaction.CommitLsn, index, sqlState, inner);
        }

        /// <summary>The statements for a table shape; the first change of a new shape first brings the DSQL table to it.</summary>
        private async Task<ChangeStatements> StatementsForAsync(ChangeTable table, SourceTransaction transaction, int index)
        {
            if (_shapes.TryGetValue(table, out var known)) return known;
            var key = (table.Schema, table.Name);
            if (!_targets.TryGetValue(key, out var target))
            {
                target = await ChangeTarget.LoadAsync(applier._dataSource, table.Schema, table.Name, applier._transactionOptions, cancellationToken).ConfigureAwait(false)
                    ?? throw Refuse($"table {table} does not exist on DSQL (create it first, e.g. with the full load's schema).", transaction, index, transaction.Changes[index], null);
                _targets[key] = target;
            }
            var added = table.Columns.Where(c => !target.ColumnTypes.ContainsKey(c.Name)).ToList();
            var sourceNames = table.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            var dropped = target.ColumnTypes.Keys.Where(c => !sourceNames.Contains(c)).ToList();
            if (added.Count > 0 || dropped.Count > 0)
            {
                string first = added.Count > 0 ? $"column {added[0].Name} ({added[0].SourceType}) was added at the source" : $"column {dropped[0]} was dropped at the source";
                if (_options.SchemaChanges == SchemaChangeBehavior.Stop)
                {
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, "schema"), applier._pipelineTag);
                    throw Refuse($"{first} and SchemaChanges is Stop: change table {table} on DSQL, or set SchemaChanges to Apply.", transaction, index, transaction.Changes[index], null);
                }
                // DDL runs alone in its own transaction: what is gathered (of the old shape) is committed first.
                await FlushAsync().ConfigureAwait(false);
                foreach (var column in added)
                {
                    var (type, reason) = Schema.TypeNameMapping.Map(column.SourceType, applier._typeMapping);
                    if (type is null)
                        throw Refuse($"column {column.Name} was added at the source with {reason}.", transaction, index, transaction.Changes[index], null);
                    await applier._dataSource.ExecuteNonQueryAsync($"ALTER TABLE {target.Quoted} ADD COLUMN {Schema.SqlNames.Quote(column.Name)} {type}",
                        options: applier._transactionOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                foreach (string column in dropped)
                {
                    await applier._dataSource.ExecuteNonQueryAsync($"ALTER TABLE {target.Quoted} DROP COLUMN {Schema.SqlNames.Quote(column)}",
                        options: applier._transactionOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                target = await ChangeTarget.LoadAsync(applier._dataSource, table.Schema, table.Name, applier._transactionOptions, cancellationToken).ConfigureAwait(false)
                    ?? throw Refuse($"table {table} disappeared from DSQL.", transaction, index, transaction.Changes[index], null);
                _targets[key] = target;
                foreach (var stale in _shapes.Keys.Where(t => t.Schema == table.Schema && t.Name == table.Name).ToList()) _shapes.Remove(stale);
            }
            if (_shapes.Count > 10_000) _shapes.Clear(); // a stream that makes a new shape per change: keep memory bounded
            var statements = new ChangeStatements(table, target);
            _shapes[table] = statements;
            return statements;
        }

        /// <summary>Commits what is gathered (nothing to do when nothing is).</summary>
        public async Task FlushAsync()
        {
            if (Pending.Count == 0) return;
            var items = Pending.ToList();
            Pending.Clear();
            _rows = 0;
            _bytes = 0;
            await ApplyItemsAsync(items).ConfigureAwait(false);
        }

        /// <summary>
        /// Commits <paramref name="items"/>; when DSQL refuses one of them for good, commits those before it, isolates it
        /// (alone, it fails again: it is poison) and goes on with those after it.
        /// </summary>
        private async Task ApplyItemsAsync(List<Item> items)
        {
            // First the batch with its changes merged into multi-row statements; when DSQL refuses that, change by change.
            if (items.Count > 1 && await TryCommitAsync(items, null, grouped: true).ConfigureAwait(false) is null) return;
            await ApplyOneByOneAsync(items).ConfigureAwait(false);
        }

        private async Task ApplyOneByOneAsync(List<Item> items)
        {
            while (items.Count > 0)
            {
                var failure = await TryCommitAsync(items, null).ConfigureAwait(false);
                if (failure is null) return;
                CdcTelemetry.Retries.Add(1, applier._pipelineTag);
                if (failure.Index >= items.Count)
                {
                    // The position or COMMIT failed (e.g. a limit crossed by the batch as a whole): halve the batch.
                    if (items.Count == 1) { await PoisonAsync(items[0], failure.Error).ConfigureAwait(false); return; }
                    int half = items.Count / 2;
                    await ApplyOneByOneAsync(items.GetRange(0, half)).ConfigureAwait(false);
                    items = items.GetRange(half, items.Count - half);
                    continue;
                }
                if (failure.Index > 0)
                {
                    await ApplyOneByOneAsync(items.GetRange(0, failure.Index)).ConfigureAwait(false);
                    items = items.GetRange(failure.Index, items.Count - failure.Index);
                    continue;
                }
                var alone = items.Count == 1 ? failure : await TryCommitAsync(items.GetRange(0, 1), null).ConfigureAwait(false);
                if (alone is not null) await PoisonAsync(items[0], alone.Error).ConfigureAwait(false);
                items = items.GetRange(1, items.Count - 1);
            }
        }

        private async Task PoisonAsync(Item item, Exception error)
        {
            var postgres = DsqlErrors.FindPostgresException(error);
            if (_options.Poison == PoisonBehavior.Stop)
                throw Refuse($"DSQL refused it ({postgres?.SqlState ?? error.GetType().Name}): {error.Message} To skip such changes into {_options.DeadLetterTable}, set Poison to DeadLetter.",
                    item.Transaction, item.Index, item.Change, error, postgres?.SqlState);
            if (await TryCommitAsync([], (item, error)).ConfigureAwait(false) is { } failed)
                throw Refuse($"it was refused ({error.Message}) and writing it to {_options.DeadLetterTable} failed too: {failed.Error.Message}", item.Transaction, item.Index, item.Change, failed.Error);
        }

        /// <summary>One DSQL transaction: the items' statements, a dead letter, the position. Null when it committed.</summary>
        /// <remarks>
        /// <paramref name="grouped"/>: the items' changes merged (<see cref="Grouping"/>); any refusal by DSQL then comes
        /// back as a failure at index 0, for the caller to apply the items one by one and find the change at fault.
        /// </remarks>
        private async Task<Failure?> TryCommitAsync(List<Item> items, (Item Item, Exception Error)? deadLetter, bool grouped = false)
        {
            var target = deadLetter is { } dead ? dead.Item.After : items[^1].After;
            var before = Position;
            while (true)
            {
                int failedAt = -1, attempts = 0;
                long started = 0, statementsDone = 0;
                try
                {
                    await applier._dataSource.ExecuteInTransactionAsync(async (connection, token) =>
                    {
                        attempts++;
                        started = Stopwatch.GetTimestamp();
                        failedAt = -1;
                        await CheckPositionAsync(connection, before, token).ConfigureAwait(false);
                        failedAt = 0;
                        if (grouped) await ExecuteGroupedAsync(connection, items, token).ConfigureAwait(false);
                        else await ExecuteAsync(connection, items, i => failedAt = i, token).ConfigureAwait(false);
                        failedAt = items.Count;
                        if (deadLetter is { } d) await WriteDeadLetterAsync(connection, d.Item, d.Error, token).ConfigureAwait(false);
                        await WritePositionAsync(connection, target, token).ConfigureAwait(false);
                        statementsDone = Stopwatch.GetTimestamp();
                    }, applier._transactionOptions, cancellationToken).ConfigureAwait(false);
                }
                catch (DsqlAmbiguousCommitException)
                {
                    // The commit may have happened: the stored position says whether it did.
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, "ambiguous_commit"), applier._pipelineTag);
                    CdcTelemetry.Retries.Add(1, applier._pipelineTag);
                    var stored = await applier.GetPositionAsync(cancellationToken).ConfigureAwait(false);
                    if (stored == target) { statementsDone = Stopwatch.GetTimestamp(); }
                    else if (stored == before || (before == ChangePosition.Start && stored == ChangePosition.Start)) continue;
                    else throw new InvalidOperationException($"After an interrupted COMMIT the stored position of pipeline {applier.PipelineId} is {stored}, neither {before} nor {target}: another applier is running this pipeline.");
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    string category = Categorize(ex);
                    if (grouped && failedAt >= 0 && DsqlErrors.FindPostgresException(ex) is { } refused && refused.SqlState != "40001")
                    {
                        CdcTelemetry.Retries.Add(1, applier._pipelineTag);
                        return new Failure(0, ex);
                    }
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, category), applier._pipelineTag);
                    if (attempts > 1) CdcTelemetry.Retries.Add(attempts - 1, applier._pipelineTag);
                    if (category is "data" or "constraint" or "limit" && deadLetter is null) return new Failure(Math.Max(failedAt, 0), ex);
                    var item = failedAt >= 0 && failedAt < items.Count ? items[failedAt] : deadLetter?.Item ?? items[^1];
                    var postgres = DsqlErrors.FindPostgresException(ex);
                    throw Refuse($"{ex.Message}", item.Transaction, item.Index, item.Change, ex, postgres?.SqlState);
                }
                long ended = Stopwatch.GetTimestamp();
                if (attempts > 1) CdcTelemetry.Retries.Add(attempts - 1, applier._pipelineTag);
                if (started != 0) CdcTelemetry.ApplyDuration.Record(Stopwatch.GetElapsedTime(started, statementsDone).TotalSeconds, applier._pipelineTag);
                CdcTelemetry.CommitDuration.Record(Stopwatch.GetElapsedTime(statementsDone, ended).TotalSeconds, applier._pipelineTag);
                await CommittedAsync(items, deadLetter?.Item, target).ConfigureAwait(false);
                return null;
            }
        }

        private async Task CommittedAsync(List<Item> items, Item? deadLetter, ChangePosition target)
        {
            Position = target;
            _transactions++;
            CdcTelemetry.Transactions.Add(1, applier._pipelineTag);
            foreach (var group in items.Where(i => i.Change is not null).GroupBy(i => i.Change!.Kind))
            {
                int count = group.Count();
                _changes += count;
                CdcTelemetry.Changes.Add(count, new(CdcTelemetry.KindTag, KindName(group.Key)), applier._pipelineTag);
            }
            var last = deadLetter ?? items[^1];
            if (deadLetter is not null)
            {
                _deadLetters++;
                CdcTelemetry.DeadLetters.Add(1, applier._pipelineTag);
            }
            _lag = DateTimeOffset.UtcNow - last.Transaction.CommitTime;
            if (_lag < TimeSpan.Zero) _lag = TimeSpan.Zero;
            CdcTelemetry.Lag.Record(_lag.TotalSeconds, applier._pipelineTag);
            progress?.Report(new ChangeApplyProgress { Position = Position, Changes = _changes, Transactions = _transactions, DeadLetters = _deadLetters, Lag = _lag });
            if (committed is not null) await committed(Position, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// A truncate: every row deleted in chunks of DSQL-sized transactions, the last of which moves the position
        /// past it. Not atomic: a reader may see the table part emptied.
        /// </summary>
        private async Task TruncateAsync(Item item)
        {
            var statements = item.Statements!;
            if (statements.Target.PrimaryKey.Count == 0)
                throw Refuse($"cannot apply Truncate: the DSQL table {statements.Target} has no primary key to delete its rows by in chunks.", item.Transaction, item.Index, item.Change, null);
            int chunk = Math.Min(_options.MaxChangesPerTransaction, MaxRows);
            var target = item.After;
            var before = Position;
            while (true)
            {
                bool done = false;
                try
                {
                    await applier._dataSource.ExecuteInTransactionAsync(async (connection, token) =>
                    {
                        done = false;
                        await CheckPositionAsync(connection, before, token).ConfigureAwait(false);
                        await using var command = new NpgsqlCommand(statements.TruncateChunk(chunk), connection);
                        int deleted = await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                        if (deleted < chunk)
                        {
                            await WritePositionAsync(connection, target, token).ConfigureAwait(false);
                            done = true;
                        }
                    }, applier._transactionOptions, cancellationToken).ConfigureAwait(false);
                }
                catch (DsqlLimitExceededException) when (chunk > 1)
                {
                    chunk /= 2; // rows larger than the byte estimate allows: smaller chunks
                    continue;
                }
                catch (DsqlAmbiguousCommitException)
                {
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, "ambiguous_commit"), applier._pipelineTag);
                    done = await applier.GetPositionAsync(cancellationToken).ConfigureAwait(false) == target;
                }
                if (done) break;
            }
            await CommittedAsync([item], null, target).ConfigureAwait(false);
        }

        private static async Task ExecuteGroupedAsync(NpgsqlConnection connection, List<Item> items, CancellationToken token)
        {
            var commands = Grouping.Build(items);
            for (int start = 0; start < commands.Count; start += CommandsPerRoundTrip)
            {
                await using var batch = new NpgsqlBatch(connection);
                for (int i = start; i < commands.Count && i < start + CommandsPerRoundTrip; i++) batch.BatchCommands.Add(commands[i]);
                await batch.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            }
        }

        private async Task ExecuteAsync(NpgsqlConnection connection, List<Item> items, Action<int> at, CancellationToken token)
        {
            int i = 0;
            var owners = new List<int>(CommandsPerRoundTrip);
            while (i < items.Count)
            {
                await using var batch = new NpgsqlBatch(connection);
                owners.Clear();
                int firstItem = i;
                for (; i < items.Count && batch.BatchCommands.Count < CommandsPerRoundTrip; i++)
                {
                    foreach (var command in items[i].Commands)
                    {
                        // A retried attempt sends the same commands again: each goes into a fresh batch.
                        batch.BatchCommands.Add(Copy(command));
                        owners.Add(i);
                    }
                }
                at(firstItem);
                if (batch.BatchCommands.Count == 0) continue;
                try
                {
                    await batch.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.BatchCommand is { } failed)
                {
                    int position = batch.BatchCommands.IndexOf(failed);
                    if (position >= 0) at(owners[position]);
                    throw;
                }
            }
        }

        /// <summary>
        /// The stored position must be the one this run last committed: otherwise another applier runs the pipeline
        /// (and a retried batch would write over its work).
        /// </summary>
        private async Task CheckPositionAsync(NpgsqlConnection connection, ChangePosition expected, CancellationToken token)
        {
            var stored = await applier.ReadPositionAsync(connection, token).ConfigureAwait(false);
            if (stored != expected)
                throw new InvalidOperationException($"The stored position of pipeline {applier.PipelineId} is {stored}, not {expected} as this applier committed: another applier is running the same pipeline.");
        }

        private async Task WritePositionAsync(NpgsqlConnection connection, ChangePosition position, CancellationToken token)
        {
            await using var command = new NpgsqlCommand(
                $"INSERT INTO {applier._positionTable} (pipeline_id, commit_lsn, applied, complete, updated_at) VALUES ($1, $2, $3, $4, now()) " +
                "ON CONFLICT (pipeline_id) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, applied = EXCLUDED.applied, complete = EXCLUDED.complete, updated_at = EXCLUDED.updated_at",
                connection);
            command.Parameters.Add(new NpgsqlParameter { Value = applier.PipelineId });
            command.Parameters.Add(new NpgsqlParameter { Value = unchecked((long)position.CommitLsn) });
            command.Parameters.Add(new NpgsqlParameter { Value = position.Applied });
            command.Parameters.Add(new NpgsqlParameter { Value = position.Complete });
            await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
        }

        private async Task WriteDeadLetterAsync(NpgsqlConnection connection, Item item, Exception error, CancellationToken token)
        {
            var postgres = DsqlErrors.FindPostgresException(error);
            await using var command = new NpgsqlCommand(
                $"INSERT INTO {applier._deadLetterTable} (pipeline_id, commit_lsn, change_index, table_name, kind, change_values, sql_state, message, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())",
                connection);
            command.Parameters.Add(new NpgsqlParameter { Value = applier.PipelineId });
            command.Parameters.Add(new NpgsqlParameter { Value = unchecked((long)item.Transaction.CommitLsn) });
            command.Parameters.Add(new NpgsqlParameter { Value = item.Index });
            command.Parameters.Add(new NpgsqlParameter { Value = item.Change!.Table.ToString() });
            command.Parameters.Add(new NpgsqlParameter { Value = KindName(item.Change.Kind) });
            command.Parameters.Add(new NpgsqlParameter { Value = ValuesJson(item.Change) });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)postgres?.SqlState ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter { Value = postgres?.MessageText ?? error.Message });
            await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
        }
    }

    /// <summary>Bytes of a dead letter's values kept at most: a value over a DSQL limit must still fit the dead-letter row.</summary>
    private const int MaxDeadLetterValueChars = 4_096;

    /// <summary><c>{"new": {column: text or null}, "old_key": {...}}</c>; an unchanged TOAST value as <c>{"unchanged": true}</c>; long values cut.</summary>
    private static string ValuesJson(RowChange change)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (change.NewValues is { } values)
            {
                json.WriteStartObject("new");
                for (int i = 0; i < values.Count && i < change.Table.Columns.Count; i++) WriteValue(json, change.Table.Columns[i].Name, values[i]);
                json.WriteEndObject();
            }
            if (change.OldKey is { } key)
            {
                json.WriteStartObject("old_key");
                var columns = change.Table.Key;
                for (int i = 0; i < key.Count && i < columns.Count; i++) WriteValue(json, columns[i].Name, key[i]);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter json, string name, ChangeValue value)
    {
        if (value.IsUnchanged)
        {
            json.WriteStartObject(name);
            json.WriteBoolean("unchanged", true);
            json.WriteEndObject();
        }
        else if (value.Text is null) json.WriteNull(name);
        else if (value.Text.Length > MaxDeadLetterValueChars) json.WriteString(name, value.Text[..MaxDeadLetterValueChars] + $"... ({value.Text.Length} characters)");
        else json.WriteString(name, value.Text);
    }

    private static string KindName(ChangeKind kind) => kind switch
    {
        ChangeKind.Insert => "insert",
        ChangeKind.Update => "update",
        ChangeKind.Delete => "delete",
        _ => "truncate",
    };

    /// <summary>The error category of a failed batch: data (22xxx), constraint (23xxx), limit (DSQL quotas), conflict, connection, schema, other.</summary>
    private static string Categorize(Exception ex)
    {
        if (ex is DsqlLimitExceededException) return "limit";
        if (ex is DsqlTransactionConflictException) return "conflict";
        var postgres = DsqlErrors.FindPostgresException(ex);
        string? state = postgres?.SqlState;
        if (state is null) return ex is NpgsqlException ? "connection" : "other";
        if (state.StartsWith("22", StringComparison.Ordinal)) return "data";
        if (state.StartsWith("23", StringComparison.Ordinal)) return "constraint";
        if (state.StartsWith("54", StringComparison.Ordinal)) return "limit";
        if (state.StartsWith("42", StringComparison.Ordinal)) return "schema";
        if (state == "40001") return "conflict";
        return "other";
    }
}
