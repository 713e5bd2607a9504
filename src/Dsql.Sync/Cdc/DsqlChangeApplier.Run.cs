using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace Dsql.Sync.Cdc;

public sealed partial class DsqlChangeApplier
{
    /// <summary>What a lane's queue holds: changes, the stream's frontier, a request to commit everything.</summary>
    private abstract record Entry;

    /// <summary>One change to apply and the position after it.</summary>
    private sealed record Item(SourceTransaction Transaction, int Index, RowChange Change, ChangeStatements Statements, int Rows, long Bytes) : Entry
    {
        public ChangePosition After => new(Transaction.CommitLsn, Index + 1, Index + 1 >= Transaction.Changes.Count);

        /// <summary>The change's own statements (fresh ones on every call: a command belongs to one batch).</summary>
        public List<Npgsql.NpgsqlBatchCommand> Commands => Statements.Build(Change).Commands;
    }

    /// <summary>Every change of the lane up to <paramref name="Position"/> was queued before this entry.</summary>
    private sealed record Mark(ChangePosition Position) : Entry;

    /// <summary>Commit everything queued before this entry, then say so.</summary>
    private sealed record Drain(TaskCompletionSource Done) : Entry;

    /// <summary>
    /// One <see cref="ApplyAsync"/> run. The stream is read here, one change after another: each is checked against the
    /// stored positions, prepared, and queued to the lane of its key. Lanes commit on their own. A change that touches
    /// two lanes or a whole table, and a schema change, first wait for every lane to commit what it holds.
    /// </summary>
    private sealed partial class Run
    {
        /// <summary>How often lanes are told the stream's frontier while it flows (idle lanes then move their position).</summary>
        private static readonly TimeSpan MarkInterval = TimeSpan.FromMilliseconds(500);

        private readonly DsqlChangeApplier _applier;
        private readonly DsqlChangeApplierOptions _options;
        private readonly Func<ChangePosition, CancellationToken, ValueTask>? _committed;
        private readonly IProgress<ChangeApplyProgress>? _progress;
        private readonly CancellationToken _token;
        private readonly CancellationTokenSource _stop;
        private readonly List<Layout> _layouts;
        private readonly ChangePosition _floor;
        private readonly Lane[] _lanes;
        private readonly Dictionary<ChangeTable, ChangeStatements> _shapes = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(string, string), ChangeTarget> _targets = new();
        private readonly Dictionary<(string, string), HashSet<string>> _seenColumns = new();
        private readonly SemaphoreSlim _reporting = new(1, 1);
        private ulong _lastLsn;
        private ChangePosition _frontier;
        private bool _unmarked;
        private long _lastMark;
        private Exception? _failure;
        private ChangePosition _reported;
        private long _changes, _transactions, _deadLetters;
        private TimeSpan _lag;

        public Run(DsqlChangeApplier applier, Func<ChangePosition, CancellationToken, ValueTask>? committed, IProgress<ChangeApplyProgress>? progress, List<Layout> layouts, CancellationToken token)
        {
            _applier = applier;
            _options = applier._options;
            _committed = committed;
            _progress = progress;
            _token = token;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(token);
            _layouts = layouts;
            int lanes = _options.Lanes;
            var current = layouts.FirstOrDefault(l => l.Lanes == lanes);
            _floor = Through(layouts.Where(l => l != current).ToList());
            _lanes = Enumerable.Range(0, lanes).Select(k => new Lane(this, applier.RowId(k, lanes), current?.Stored[k] ?? ChangePosition.Start)).ToArray();
            _frontier = _reported = Through(layouts);
        }

        private long MaxBytes => _options.MaxBytesPerTransaction - ReservedBytes;

        /// <summary>How far everything is applied: the slowest lane, or further when an earlier layout got there.</summary>
        private ChangePosition Safe
        {
            get
            {
                var slowest = _lanes[0].Position;
                foreach (var lane in _lanes) if (Later(slowest, lane.Position) == slowest) slowest = lane.Position;
                return Later(_floor, slowest);
            }
        }

        public async Task<ChangePosition> RunAsync(IAsyncEnumerable<SourceTransaction> stream)
        {
            var loops = _lanes.Select(lane => Task.Run(lane.LoopAsync, CancellationToken.None)).ToArray();
            try
            {
                // The stream sees the run's token: a lane that fails also ends a pending read.
                var enumerator = stream.GetAsyncEnumerator(_stop.Token);
                await using (enumerator.ConfigureAwait(false))
                {
                    while (true)
                    {
                        var next = enumerator.MoveNextAsync();
                        if (!next.IsCompleted)
                        {
                            // The stream has paused: after MaxBatchDelay, lanes learn the frontier (idle ones move to it).
                            // A lane that fails meanwhile stops the wait.
                            var waiting = next.AsTask();
                            next = new ValueTask<bool>(waiting);
                            try
                            {
                                if (_unmarked)
                                {
                                    try
                                    {
                                        await waiting.WaitAsync(_options.MaxBatchDelay, _stop.Token).ConfigureAwait(false);
                                    }
                                    catch (TimeoutException)
                                    {
                                        MarkAll();
                                    }
                                }
                                await waiting.WaitAsync(_stop.Token).ConfigureAwait(false);
                            }
                            catch (OperationCanceledException) when (!waiting.IsCompleted)
                            {
                                // The stream sees the caller's token; let its pending read end before the enumerator is disposed.
                                await _stop.CancelAsync().ConfigureAwait(false);
                                // (An async iterator cannot be disposed in the middle of MoveNextAsync.)
                                await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false);
                                throw;
                            }
                        }
                        if (!await next.ConfigureAwait(false)) break;
                        await AddAsync(enumerator.Current).ConfigureAwait(false);
                        if (Stopwatch.GetElapsedTime(_lastMark) >= MarkInterval) MarkAll();
                    }
                }
                // Everything read is committed, and every lane's position is brought to the end of the stream (a full
                // queue waits for room: this mark must reach every lane).
                try
                {
                    foreach (var lane in _lanes) await lane.QueueAsync(new Mark(_frontier), _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    ThrowIfFailed();
                    throw;
                }
                await DrainAsync().ConfigureAwait(false);
                await ForgetOldLayoutsAsync().ConfigureAwait(false);
                return Safe;
            }
            catch (Exception) when (_failure is not null && !_token.IsCancellationRequested)
            {
                // A lane's failure is the run's, whatever it caused here (a cancelled wait, a stream that could not be disposed).
                ExceptionDispatchInfo.Throw(_failure);
                throw;
            }
            finally
            {
                foreach (var lane in _lanes) lane.Complete();
                await _stop.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(loops).ConfigureAwait(false); // lanes end on their own; their errors went to Fail
                _stop.Dispose();
            }
        }

        /// <summary>A lane stopped with <paramref name="error"/>: the run stops with it.</summary>
        public void Fail(Exception error)
        {
            Interlocked.CompareExchange(ref _failure, error, null);
            try { _stop.Cancel(); } catch (ObjectDisposedException) { /* the run has ended */ }
        }

        private void ThrowIfFailed()
        {
            if (_failure is { } failure && !_token.IsCancellationRequested) ExceptionDispatchInfo.Throw(failure);
        }

        /// <summary>Tells every lane the frontier (a full lane is busy anyway and is skipped).</summary>
        private void MarkAll()
        {
            bool all = true;
            foreach (var lane in _lanes) all &= lane.TryQueue(new Mark(_frontier));
            _unmarked = !all;
            _lastMark = Stopwatch.GetTimestamp();
        }

        /// <summary>Waits until every lane (or those given) has committed everything queued to it.</summary>
        private async Task DrainAsync(Lane[]? lanes = null)
        {
            lanes ??= _lanes;
            var done = new Task[lanes.Length];
            try
            {
                for (int k = 0; k < lanes.Length; k++)
                {
                    var drain = new Drain(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                    await lanes[k].QueueAsync(drain, _stop.Token).ConfigureAwait(false);
                    done[k] = drain.Done.Task;
                }
                await Task.WhenAll(done).WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ThrowIfFailed();
                throw;
            }
        }

        private async Task QueueAsync(int lane, Item item)
        {
            try
            {
                await _lanes[lane].QueueAsync(item, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ThrowIfFailed();
                throw;
            }
        }

        /// <summary>Whether a stored layout says the change is applied.</summary>
        private bool Covered(RowChange change, ulong lsn, int index)
        {
            foreach (var layout in _layouts) if (layout.Covers(change, lsn, index)) return true;
            return false;
        }

        private async Task AddAsync(SourceTransaction transaction)
        {
            ArgumentNullException.ThrowIfNull(transaction);
            ThrowIfFailed();
            if (transaction.CommitLsn < _lastLsn)
                throw new ArgumentException($"The stream went back from {ChangePosition.Lsn(_lastLsn)} to {ChangePosition.Lsn(transaction.CommitLsn)}: source transactions must come in commit order.", "stream");
            _lastLsn = transaction.CommitLsn;
            for (int i = 0; i < transaction.Changes.Count; i++)
            {
                var change = transaction.Changes[i];
                if (Covered(change, transaction.CommitLsn, i)) continue;
                Item item;
                try
                {
                    var statements = await StatementsForAsync(change.Table, transaction, i).ConfigureAwait(false);
                    item = change.Kind == ChangeKind.Truncate ? new Item(transaction, i, change, statements, 0, 0) : Prepare(transaction, i, change, statements);
                }
                catch (ChangeApplyException)
                {
                    // Stop at the change: what came before it is committed, so the stored positions name it.
                    await DrainAsync().ConfigureAwait(false);
                    throw;
                }
                var (lane, other) = LaneOf(change, _lanes.Length);
                if (lane == AllLanes)
                {
                    await DrainAsync().ConfigureAwait(false);
                    await TruncateAsync(item).ConfigureAwait(false);
                }
                else if (other >= 0)
                {
                    // A key moving between two lanes: both commit what they hold, then the change moves both positions.
                    Lane[] pair = [_lanes[lane], _lanes[other]];
                    await DrainAsync(pair).ConfigureAwait(false);
                    await ApplyItemsAsync(pair, [item], item.After).ConfigureAwait(false);
                }
                else
                {
                    await QueueAsync(lane, item).ConfigureAwait(false);
                }
                _frontier = item.After;
            }
            // Every change of the transaction is applied, queued or was applied before: the frontier passes it.
            _frontier = Later(_frontier, new ChangePosition(transaction.CommitLsn, transaction.Changes.Count, true));
            _unmarked = true;
        }

        private Item Prepare(SourceTransaction transaction, int index, RowChange change, ChangeStatements statements)
        {
            if (change.Kind != ChangeKind.Insert && statements.CannotUpdateOrDelete is { } why)
                throw Refuse($"cannot apply {change.Kind}: {why}.", transaction, index, change, null);
            if (change.Kind is ChangeKind.Insert or ChangeKind.Update && change.NewValues?.Count != change.Table.Columns.Count)
                throw Refuse($"the change carries {change.NewValues?.Count ?? 0} values for {change.Table.Columns.Count} columns.", transaction, index, change, null);
            if (change.Kind == ChangeKind.Delete && change.OldKey is null)
                throw Refuse("the delete carries no key.", transaction, index, change, null);
            var (rows, bytes) = statements.Measure(change);
            return new Item(transaction, index, change, statements, rows, bytes);
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
                target = await ChangeTarget.LoadAsync(_applier._dataSource, table.Schema, table.Name, _applier._transactionOptions, _token).ConfigureAwait(false)
                    ?? throw Refuse($"table {table} does not exist on DSQL (create it first, e.g. with the full load's schema).", transaction, index, transaction.Changes[index], null);
                _targets[key] = target;
            }
            var added = table.Columns.Where(c => !target.ColumnTypes.ContainsKey(c.Name)).ToList();
            // A column is dropped on DSQL only when this run saw it in an earlier shape of the table: a column DSQL has
            // and the stream never carried (added on DSQL alone, or generated at the source) is left as it is.
            var sourceNames = table.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            if (!_seenColumns.TryGetValue(key, out var seen)) _seenColumns[key] = seen = new HashSet<string>(StringComparer.Ordinal);
            var dropped = target.ColumnTypes.Keys.Where(c => !sourceNames.Contains(c) && seen.Contains(c)).ToList();
            seen.UnionWith(sourceNames);
            if (added.Count > 0 || dropped.Count > 0)
            {
                string first = added.Count > 0 ? $"column {added[0].Name} ({added[0].SourceType}) was added at the source" : $"column {dropped[0]} was dropped at the source";
                if (_options.SchemaChanges == SchemaChangeBehavior.Stop)
                {
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, "schema"), _applier._pipelineTag);
                    throw Refuse($"{first} and SchemaChanges is Stop: change table {table} on DSQL, or set SchemaChanges to Apply.", transaction, index, transaction.Changes[index], null);
                }
                // DDL runs alone in its own transaction: what is gathered (of the old shape) is committed first.
                await DrainAsync().ConfigureAwait(false);
                foreach (var column in added)
                {
                    var (type, reason) = Schema.TypeNameMapping.Map(column.SourceType, _applier._typeMapping);
                    if (type is null)
                        throw Refuse($"column {column.Name} was added at the source with {reason}.", transaction, index, transaction.Changes[index], null);
                    await _applier._dataSource.ExecuteNonQueryAsync($"ALTER TABLE {target.Quoted} ADD COLUMN {Schema.SqlNames.Quote(column.Name)} {type}",
                        options: _applier._transactionOptions, cancellationToken: _token).ConfigureAwait(false);
                }
                foreach (string column in dropped)
                {
                    await _applier._dataSource.ExecuteNonQueryAsync($"ALTER TABLE {target.Quoted} DROP COLUMN {Schema.SqlNames.Quote(column)}",
                        options: _applier._transactionOptions, cancellationToken: _token).ConfigureAwait(false);
                }
                target = await ChangeTarget.LoadAsync(_applier._dataSource, table.Schema, table.Name, _applier._transactionOptions, _token).ConfigureAwait(false)
                    ?? throw Refuse($"table {table} disappeared from DSQL.", transaction, index, transaction.Changes[index], null);
                _targets[key] = target;
                foreach (var stale in _shapes.Keys.Where(t => t.Schema == table.Schema && t.Name == table.Name).ToList()) _shapes.Remove(stale);
            }
            if (_shapes.Count > 10_000) _shapes.Clear(); // a stream that makes a new shape per change: keep memory bounded
            var statements = new ChangeStatements(table, target);
            _shapes[table] = statements;
            return statements;
        }

        /// <summary>Deletes the rows of earlier lane layouts once every lane of this one has passed all of them.</summary>
        private async Task ForgetOldLayoutsAsync()
        {
            var old = _layouts.Where(l => l.Lanes != _lanes.Length && Later(l.Furthest, Safe) == Safe).ToList();
            if (old.Count == 0) return;
            var ids = old.SelectMany(l => Enumerable.Range(0, l.Lanes).Select(k => _applier.RowId(k, l.Lanes))).ToList();
            await _applier._dataSource.ExecuteNonQueryAsync(
                $"DELETE FROM {_applier._positionTable} WHERE pipeline_id IN ({string.Join(", ", ids.Select((_, i) => "$" + (i + 1)))})",
                ids.Select(id => new Npgsql.NpgsqlParameter { Value = id }).ToList(), _applier._transactionOptions, _token).ConfigureAwait(false);
        }
    }
}
