using System.Diagnostics;
using System.Text.Json;
using Dsql.Connector;
using Npgsql;

namespace Dsql.Sync.Cdc;

public sealed partial class DsqlChangeApplier
{
    /// <summary>A batch that failed: the index of the item whose statement failed (the item count when the position or COMMIT failed).</summary>
    private sealed record Failure(int Index, Exception Error);

    private sealed partial class Run
    {
        public DsqlChangeApplierOptions Options => _options;

        /// <summary>Ends with the caller's token, or when a lane fails.</summary>
        public CancellationToken Token => _stop.Token;

        public long MaxBatchBytes => MaxBytes;

        /// <summary>
        /// Commits <paramref name="items"/> (with <paramref name="owners"/>' rows moved to <paramref name="target"/>);
        /// when DSQL refuses one of them for good, commits those before it, isolates it (alone, it fails again: it is
        /// poison) and goes on with those after it. No items: the position alone moves.
        /// </summary>
        public async Task ApplyItemsAsync(Lane[] owners, List<Item> items, ChangePosition target)
        {
            // First the batch with its changes merged into multi-row statements; when DSQL refuses that, change by change.
            if ((items.Count != 1 || Later(target, items[0].After) != items[0].After) && await TryCommitAsync(owners, items, null, target, grouped: items.Count > 1 && _options.MergeChanges).ConfigureAwait(false) is null) return;
            await ApplyOneByOneAsync(owners, items).ConfigureAwait(false);
        }

        private async Task ApplyOneByOneAsync(Lane[] owners, List<Item> items)
        {
            while (items.Count > 0)
            {
                var failure = await TryCommitAsync(owners, items, null, items[^1].After).ConfigureAwait(false);
                if (failure is null) return;
                CdcTelemetry.Retries.Add(1, _applier._pipelineTag);
                if (failure.Index >= items.Count)
                {
                    // The position or COMMIT failed (e.g. a limit crossed by the batch as a whole): halve the batch.
                    if (items.Count == 1) { await PoisonAsync(owners, items[0], failure.Error).ConfigureAwait(false); return; }
                    int half = items.Count / 2;
                    await ApplyOneByOneAsync(owners, items.GetRange(0, half)).ConfigureAwait(false);
                    items = items.GetRange(half, items.Count - half);
                    continue;
                }
                if (failure.Index > 0)
                {
                    await ApplyOneByOneAsync(owners, items.GetRange(0, failure.Index)).ConfigureAwait(false);
                    items = items.GetRange(failure.Index, items.Count - failure.Index);
                    continue;
                }
                var alone = items.Count == 1 ? failure : await TryCommitAsync(owners, items.GetRange(0, 1), null, items[0].After).ConfigureAwait(false);
                if (alone is not null) await PoisonAsync(owners, items[0], alone.Error).ConfigureAwait(false);
                items = items.GetRange(1, items.Count - 1);
            }
        }

        private async Task PoisonAsync(Lane[] owners, Item item, Exception error)
        {
            var postgres = DsqlErrors.FindPostgresException(error);
            if (_options.Poison == PoisonBehavior.Stop)
                throw Refuse($"DSQL refused it ({postgres?.SqlState ?? error.GetType().Name}): {error.Message} To skip such changes into {_options.DeadLetterTable}, set Poison to DeadLetter.",
                    item.Transaction, item.Index, item.Change, error, postgres?.SqlState);
            if (await TryCommitAsync(owners, [], (item, error), item.After).ConfigureAwait(false) is { } failed)
                throw Refuse($"it was refused ({error.Message}) and writing it to {_options.DeadLetterTable} failed too: {failed.Error.Message}", item.Transaction, item.Index, item.Change, failed.Error);
        }

        /// <summary>
        /// One DSQL transaction: the items' statements, a dead letter, the owners' positions moved to
        /// <paramref name="target"/>. Null when it committed.
        /// </summary>
        /// <remarks>
        /// <paramref name="grouped"/>: the items' changes merged (<see cref="Grouping"/>); any refusal by DSQL then comes
        /// back as a failure at index 0, for the caller to apply the items one by one and find the change at fault.
        /// </remarks>
        private async Task<Failure?> TryCommitAsync(Lane[] owners, List<Item> items, (Item Item, Exception Error)? deadLetter, ChangePosition target, bool grouped = false)
        {
            var before = owners.Select(o => o.Position).ToArray();
            var token = Token;
            while (true)
            {
                int failedAt = -1, attempts = 0;
                long started = 0, statementsDone = 0;
                try
                {
                    await _applier._dataSource.ExecuteInTransactionAsync(async (connection, t) =>
                    {
                        attempts++;
                        started = Stopwatch.GetTimestamp();
                        failedAt = -1;
                        for (int o = 0; o < owners.Length; o++) await _applier.CheckPositionAsync(connection, owners[o].RowId, before[o], t).ConfigureAwait(false);
                        failedAt = 0;
                        if (grouped) await ExecuteGroupedAsync(connection, items, t).ConfigureAwait(false);
                        else await ExecuteAsync(connection, items, i => failedAt = i, t).ConfigureAwait(false);
                        failedAt = items.Count;
                        if (deadLetter is { } d) await WriteDeadLetterAsync(connection, d.Item, d.Error, t).ConfigureAwait(false);
                        foreach (var owner in owners) await _applier.WritePositionAsync(connection, owner.RowId, target, t).ConfigureAwait(false);
                        statementsDone = Stopwatch.GetTimestamp();
                    }, _applier._transactionOptions, token).ConfigureAwait(false);
                }
                catch (DsqlAmbiguousCommitException)
                {
                    // The commit may have happened: the stored positions say whether it did.
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, "ambiguous_commit"), _applier._pipelineTag);
                    CdcTelemetry.Retries.Add(1, _applier._pipelineTag);
                    var stored = await ReadOwnersAsync(owners, token).ConfigureAwait(false);
                    if (stored.All(p => p == target)) { statementsDone = Stopwatch.GetTimestamp(); }
                    else if (stored.SequenceEqual(before)) continue;
                    else throw new InvalidOperationException($"After an interrupted COMMIT the stored positions of pipeline {_applier.PipelineId} are {string.Join(", ", stored)}, neither {string.Join(", ", before)} nor {target}: another applier is running this pipeline.");
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && token.IsCancellationRequested))
                {
                    string category = Categorize(ex);
                    if (grouped && failedAt >= 0 && DsqlErrors.FindPostgresException(ex) is { } refused && refused.SqlState != "40001")
                    {
                        CdcTelemetry.Retries.Add(1, _applier._pipelineTag);
                        return new Failure(0, ex);
                    }
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, category), _applier._pipelineTag);
                    if (attempts > 1) CdcTelemetry.Retries.Add(attempts - 1, _applier._pipelineTag);
                    if (category is "data" or "constraint" or "limit" && deadLetter is null && items.Count > 0) return new Failure(Math.Max(failedAt, 0), ex);
                    var item = failedAt >= 0 && failedAt < items.Count ? items[failedAt] : deadLetter?.Item ?? (items.Count > 0 ? items[^1] : null);
                    var postgres = DsqlErrors.FindPostgresException(ex);
                    if (item is null) throw;
                    throw Refuse($"{ex.Message}", item.Transaction, item.Index, item.Change, ex, postgres?.SqlState);
                }
                long ended = Stopwatch.GetTimestamp();
                if (attempts > 1) CdcTelemetry.Retries.Add(attempts - 1, _applier._pipelineTag);
                if (started != 0 && items.Count > 0) CdcTelemetry.ApplyDuration.Record(Stopwatch.GetElapsedTime(started, statementsDone).TotalSeconds, _applier._pipelineTag);
                if (items.Count > 0 || deadLetter is not null) CdcTelemetry.CommitDuration.Record(Stopwatch.GetElapsedTime(statementsDone, ended).TotalSeconds, _applier._pipelineTag);
                await CommittedAsync(owners, items, deadLetter?.Item, target).ConfigureAwait(false);
                return null;
            }
        }

        private async Task<ChangePosition[]> ReadOwnersAsync(Lane[] owners, CancellationToken token)
            => await _applier._dataSource.ExecuteInTransactionAsync(async (connection, t) =>
            {
                var stored = new ChangePosition[owners.Length];
                for (int o = 0; o < owners.Length; o++) stored[o] = await _applier.ReadPositionAsync(connection, owners[o].RowId, t).ConfigureAwait(false);
                return stored;
            }, _applier.ReadOnlyOptions, token).ConfigureAwait(false);

        /// <summary>After a commit: the owners' positions, the counters, the progress, and (when it moved) the safe position to the caller.</summary>
        private async Task CommittedAsync(Lane[] owners, List<Item> items, Item? deadLetter, ChangePosition target)
        {
            await _reporting.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                foreach (var owner in owners) owner.Position = target;
                _transactions++;
                CdcTelemetry.Transactions.Add(1, _applier._pipelineTag);
                foreach (var group in items.GroupBy(i => i.Change.Kind))
                {
                    int count = group.Count();
                    _changes += count;
                    CdcTelemetry.Changes.Add(count, new(CdcTelemetry.KindTag, KindName(group.Key)), _applier._pipelineTag);
                }
                if (deadLetter is not null)
                {
                    _deadLetters++;
                    CdcTelemetry.DeadLetters.Add(1, _applier._pipelineTag);
                }
                if ((deadLetter ?? (items.Count > 0 ? items[^1] : null)) is { } last)
                {
                    _lag = DateTimeOffset.UtcNow - last.Transaction.CommitTime;
                    if (_lag < TimeSpan.Zero) _lag = TimeSpan.Zero;
                    CdcTelemetry.Lag.Record(_lag.TotalSeconds, _applier._pipelineTag);
                }
                var safe = Safe;
                bool moved = Later(safe, _reported) != _reported;
                _reported = Later(safe, _reported);
                _progress?.Report(new ChangeApplyProgress { Position = _reported, Changes = _changes, Transactions = _transactions, DeadLetters = _deadLetters, Lag = _lag });
                if (moved && _committed is not null) await _committed(_reported, Token).ConfigureAwait(false);
            }
            finally
            {
                _reporting.Release();
            }
        }

        /// <summary>
        /// A truncate: every row deleted in chunks of DSQL-sized transactions, the last of which moves every lane past
        /// it. Not atomic: a reader may see the table part emptied.
        /// </summary>
        private async Task TruncateAsync(Item item)
        {
            var statements = item.Statements;
            if (statements.Target.PrimaryKey.Count == 0)
                throw Refuse($"cannot apply Truncate: the DSQL table {statements.Target} has no primary key to delete its rows by in chunks.", item.Transaction, item.Index, item.Change, null);
            int chunk = Math.Min(_options.MaxChangesPerTransaction, MaxRows);
            var target = item.After;
            var owners = _lanes;
            var before = owners.Select(o => o.Position).ToArray();
            var token = Token;
            while (true)
            {
                bool done = false;
                try
                {
                    await _applier._dataSource.ExecuteInTransactionAsync(async (connection, t) =>
                    {
                        done = false;
                        for (int o = 0; o < owners.Length; o++) await _applier.CheckPositionAsync(connection, owners[o].RowId, before[o], t).ConfigureAwait(false);
                        await using var command = new NpgsqlCommand(statements.TruncateChunk(chunk), connection);
                        int deleted = await command.ExecuteNonQueryAsync(t).ConfigureAwait(false);
                        if (deleted < chunk)
                        {
                            foreach (var owner in owners) await _applier.WritePositionAsync(connection, owner.RowId, target, t).ConfigureAwait(false);
                            done = true;
                        }
                    }, _applier._transactionOptions, token).ConfigureAwait(false);
                }
                catch (DsqlLimitExceededException) when (chunk > 1)
                {
                    chunk /= 2; // rows larger than the byte estimate allows: smaller chunks
                    continue;
                }
                catch (DsqlAmbiguousCommitException)
                {
                    CdcTelemetry.Errors.Add(1, new(CdcTelemetry.CategoryTag, "ambiguous_commit"), _applier._pipelineTag);
                    done = (await ReadOwnersAsync(owners, token).ConfigureAwait(false)).All(p => p == target);
                }
                if (done) break;
            }
            await CommittedAsync(owners, [item], null, target).ConfigureAwait(false);
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

        private static async Task ExecuteAsync(NpgsqlConnection connection, List<Item> items, Action<int> at, CancellationToken token)
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
                    // Fresh commands on every attempt: a retried attempt sends them again in a new batch.
                    foreach (var command in items[i].Commands)
                    {
                        batch.BatchCommands.Add(command);
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

        private async Task WriteDeadLetterAsync(NpgsqlConnection connection, Item item, Exception error, CancellationToken token)
        {
            var postgres = DsqlErrors.FindPostgresException(error);
            await using var command = new NpgsqlCommand(
                $"INSERT INTO {_applier._deadLetterTable} (pipeline_id, commit_lsn, change_index, table_name, kind, change_values, sql_state, message, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())",
                connection);
            command.Parameters.Add(new NpgsqlParameter { Value = _applier.PipelineId });
            command.Parameters.Add(new NpgsqlParameter { Value = unchecked((long)item.Transaction.CommitLsn) });
            command.Parameters.Add(new NpgsqlParameter { Value = item.Index });
            command.Parameters.Add(new NpgsqlParameter { Value = item.Change.Table.ToString() });
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
