using System.Diagnostics;
using System.Globalization;
using Dsql.Connector;
using Dsql.Sync.Cdc;
using Dsql.Sync.Pipeline;
using Dsql.Sync.Schema;
using Npgsql;

namespace Dsql.Sync.Tool;

/// <summary>
/// <c>dsql-sync run</c>: the replication slot and its snapshot, the full load from that snapshot, then the change
/// stream applied to DSQL until the process is stopped.
/// </summary>
internal sealed partial class PipelineLoad
{
    /// <summary>The slot's name when the file gives none: <c>dsql_sync_</c> and the pipeline's name in the characters a slot name allows.</summary>
    public static string DefaultSlotName(string pipelineName)
    {
        var name = new string(pipelineName.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '_').ToArray());
        name = "dsql_sync_" + name;
        return name.Length > 63 ? name[..63] : name;
    }

    private async Task<int> ReplicateAsync(string name, PipelineDefinition pipeline, SchemaMapping mapping, NpgsqlDataSource source,
        DsqlDataSource sink, Stopwatch clock, CancellationToken cancellationToken)
    {
        if (mapping.Tables.FirstOrDefault(t => t.PrimaryKey.Count == 0) is { } keyless)
        {
            await error.WriteLineAsync($"error: {keyless.Schema}.{keyless.Name} has no primary key: its updates and deletes could not be applied on DSQL. " +
                "Add a primary key at the source, or leave the table out of source.table-name.");
            return SyncTool.BadInput;
        }
        // pgoutput does not publish generated columns (before PostgreSQL 18): their copies on DSQL, plain columns since
        // the load, would stay NULL for new rows, and the applier would take them for columns dropped at the source.
        if (mapping.Decisions.Where(d => d.Source == "generated column").Select(d => d.Subject).ToList() is { Count: > 0 } generated)
        {
            await error.WriteLineAsync($"error: {string.Join(", ", generated)} {(generated.Count == 1 ? "is a generated column" : "are generated columns")}: " +
                "the change stream does not carry generated values, so dsql-sync run could not keep them up to date on DSQL. " +
                "Leave those tables out of source.table-name (dsql-sync load copies them once), or make the columns plain at the source.");
            return SyncTool.BadInput;
        }
        string slot = pipeline.Source.SlotName ?? DefaultSlotName(name);
        var sourceSettings = pipeline.Source.ToNpgsqlSettings();
        sourceSettings.ApplicationName = Jobs.PipelineRunLock.ApplicationName;
        // One process per pipeline, from before the slot is touched to the end: see PipelineRunLock.
        var (runLock, holder) = await Jobs.PipelineRunLock.AcquireAsync(sourceSettings.ConnectionString, slot, TimeSpan.FromSeconds(1), cancellationToken);
        if (runLock is null)
        {
            await error.WriteLineAsync($"error: pipeline {name} (slot {slot}) is already running in {holder}. " +
                "Only one dsql-sync run may run a pipeline at a time: stop the other one (Ctrl+C) and run this again, or let it go on. " +
                "If that process is gone but its connection stays, end it at the source with SELECT pg_terminate_backend(pid) for the server process named.");
            return SyncTool.BadInput;
        }
        await using var heldLock = runLock;
        if (!await ExistingTablesMatchAsync(sink, mapping, cancellationToken)) return SyncTool.BadInput;

        var sourceOptions = new PostgresChangeSourceOptions
        {
            ConnectionString = sourceSettings.ConnectionString,
            SlotName = slot,
            PublicationName = pipeline.Source.PublicationName ?? slot,
            PipelineId = name,
        };
        foreach (var table in mapping.Tables) sourceOptions.Tables.Add(table.Schema + "." + table.Name);
        await using var changes = new PostgresChangeSource(sourceOptions);
        var applier = new DsqlChangeApplier(sink, new DsqlChangeApplierOptions
        {
            PipelineId = name,
            TypeMapping = pipeline.Sink.LoadOptions.ToSchemaMappingOptions(),
            SchemaChanges = pipeline.Pipeline.SchemaChanges,
            Poison = pipeline.Sink.Poison,
            // sink.parallelism is the number of connections that write at once: in the stream, one per apply lane.
            Lanes = Math.Min(pipeline.Sink.Parallelism, DsqlChangeApplierOptions.MaxLanes),
        });
        await applier.EnsureCreatedAsync(cancellationToken);

        // The load job belongs to the slot: a slot made again (dropped by hand) needs a full load of its own.
        string jobId = name + ":" + slot;
        var start = await changes.SetUpAsync(cancellationToken);
        if (!start.SlotCreated && pipeline.Sink.EnableFullLoad && !await JobDoneAsync(sink, jobId, cancellationToken))
        {
            // The process that made the slot stopped before its full load finished, and the snapshot the load read went
            // with it. Every row in the tables came from that load (they were empty when the slot was made), so the
            // load starts over: the rows go, the slot is made again with a new snapshot.
            await start.DisposeAsync();
            Line($"the full load from slot {slot} did not finish and its snapshot is gone: starting it over (the rows it loaded are deleted, the slot is made again).");
            await changes.DropAsync(cancellationToken);
            foreach (var table in mapping.Tables) await DeleteAllRowsAsync(sink, table, cancellationToken);
            start = await changes.SetUpAsync(cancellationToken);
        }
        await using (start)
        {
            if (start.SlotCreated)
            {
                Line($"source: created slot {slot} and publication {sourceOptions.PublicationName} at {ChangePosition.Lsn(start.StartLsn)}.");
                if (pipeline.Sink.EnableFullLoad)
                {
                    if (await NonEmptyTableAsync(sink, mapping, cancellationToken) is { } loaded)
                    {
                        await error.WriteLineAsync($"error: the target table {loaded} holds rows, but the slot {slot} is new, so the full load starts again from its snapshot. " +
                            $"Empty the target tables (or drop them), then run again. (The slot stays; to start over completely, also run SELECT pg_drop_replication_slot('{slot}') at the source.)");
                        return SyncTool.BadInput;
                    }
                    await ForgetJobAsync(sink, jobId, cancellationToken);
                    int loadedCode;
                    try
                    {
                        loadedCode = await LoadTablesAsync(pipeline, mapping, source, sink, jobId, start.SnapshotName, clock, cancellationToken);
                    }
                    catch (Exception) when (cancellationToken.IsCancellationRequested)
                    {
                        long rows = mapping.Tables.Sum(t => _tally.Of(Name(t)).Rows);
                        await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                            $"interrupted during the full load from slot {slot}'s snapshot: this process had loaded {rows:N0} row(s), which stay in the target tables for now. ") +
                            "The snapshot ends with this process and a load cannot go on from another one, so the next dsql-sync run of this file deletes the rows loaded, " +
                            $"makes the slot again and loads from the start, then streams. To give the pipeline up instead, run SELECT pg_drop_replication_slot('{slot}') at the source.");
                        return SyncTool.Interrupted;
                    }
                    if (loadedCode != SyncTool.Ok) return loadedCode;
                }
                else
                {
                    await using var connection = await sink.OpenConnectionAsync(cancellationToken);
                    if (!await ApplyAsync(connection, mapping, DdlPhase.BeforeLoad, cancellationToken)) return SyncTool.BadInput;
                    await ApplyAsync(connection, mapping, DdlPhase.AfterLoad, cancellationToken);
                    Line($"sink.enable-full-load is false: the tables are created empty; changes from {ChangePosition.Lsn(start.StartLsn)} on are applied.");
                }
            }
            else
            {
                if (start.TablesAdded.Count > 0)
                    Line($"warning: {string.Join(", ", start.TablesAdded)} joined the publication now: their changes are applied from now on, but their earlier rows are not loaded (load them with dsql-sync load under another pipeline name).");
                Line($"source: resuming slot {slot} at {ChangePosition.Lsn(start.StartLsn)}.");
            }
        }

        return await StreamChangesAsync(changes, applier, cancellationToken);
    }

    private async Task<int> StreamChangesAsync(PostgresChangeSource changes, DsqlChangeApplier applier, CancellationToken cancellationToken)
    {
        var position = await applier.GetPositionAsync(cancellationToken);
        Line($"streaming changes from {(position.CommitLsn == 0 ? "the slot's start" : position.ToString())} (Ctrl+C stops after the transaction in flight).");
        var status = new StreamStatus(this);
        using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(1));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var statusLine = Task.Run(async () =>
        {
            try
            {
                while (await ticker.WaitForNextTickAsync(stop.Token)) status.Print();
            }
            catch (OperationCanceledException)
            {
                // stopped
            }
        }, CancellationToken.None);
        try
        {
            position = await applier.ApplyAsync(
                changes.StreamAsync(position.CommitLsn, cancellationToken),
                (committed, _) =>
                {
                    // Only a source transaction applied in full is acknowledged: the server may then forget it.
                    if (committed.Complete) changes.Acknowledge(committed.CommitLsn);
                    return ValueTask.CompletedTask;
                },
                new SynchronousProgress<ChangeApplyProgress>(status.Report),
                cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            position = await applier.GetPositionAsync(CancellationToken.None);
            Line($"stopped at {position}; run the same command again to go on from there.");
            return SyncTool.Ok;
        }
        finally
        {
            await stop.CancelAsync();
            await statusLine;
        }
        Line($"the change stream ended at {position}.");
        return SyncTool.Ok;
    }

    private static async Task<string?> NonEmptyTableAsync(DsqlDataSource sink, SchemaMapping mapping, CancellationToken cancellationToken)
    {
        foreach (var table in mapping.Tables)
        {
            bool rows = await sink.ExecuteInTransactionAsync(async (connection, token) =>
            {
                if (!await TableExistsAsync(connection, table, token)) return false;
                await using var any = new NpgsqlCommand($"SELECT EXISTS (SELECT 1 FROM {table.QualifiedName})", connection);
                return (bool)(await any.ExecuteScalarAsync(token))!;
            }, new DsqlTransactionOptions { ReadOnly = true }, cancellationToken);
            if (rows) return table.Schema + "." + table.Name;
        }
        return null;
    }

    private static async Task<bool> TableExistsAsync(NpgsqlConnection connection, TableMapping table, CancellationToken cancellationToken)
    {
        await using var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection);
        exists.Parameters.Add(new NpgsqlParameter { Value = table.QualifiedName });
        return (bool)(await exists.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Deletes every row of <paramref name="table"/> on the target, by key, in transactions within DSQL's row limit.</summary>
    private static async Task DeleteAllRowsAsync(DsqlDataSource sink, TableMapping table, CancellationToken cancellationToken)
    {
        string key = string.Join(", ", table.PrimaryKey.Select(Quote));
        string sql = $"DELETE FROM {table.QualifiedName} WHERE ({key}) IN (SELECT {key} FROM {table.QualifiedName} LIMIT 1000)";
        int deleted;
        do
        {
            deleted = await sink.ExecuteInTransactionAsync(async (connection, token) =>
            {
                if (!await TableExistsAsync(connection, table, token)) return 0;
                await using var delete = new NpgsqlCommand(sql, connection);
                return await delete.ExecuteNonQueryAsync(token);
            }, cancellationToken: cancellationToken);
        }
        while (deleted > 0);
    }

    private static async Task<bool> JobDoneAsync(DsqlDataSource sink, string jobId, CancellationToken cancellationToken)
    {
        var job = new Jobs.LoadJob(sink, jobId, TimeSpan.FromSeconds(30));
        await job.EnsureCreatedAsync(cancellationToken);
        var steps = await job.ReadAsync(cancellationToken);
        return steps.Count > 0 && steps.All(s => s.IsDone);
    }

    /// <summary>Removes what an earlier slot's load left in the job table, so that the new slot's load starts clean.</summary>
    private static async Task ForgetJobAsync(DsqlDataSource sink, string jobId, CancellationToken cancellationToken)
    {
        await Jobs.LoadJob.RaceTolerantAsync(new Bulk.DsqlTableCheckpoint(sink).EnsureCreatedAsync, cancellationToken);
        var job = new Jobs.LoadJob(sink, jobId, TimeSpan.FromSeconds(30));
        await job.EnsureCreatedAsync(cancellationToken);
        await job.DeleteAsync(cancellationToken);
    }

    /// <summary>The live status line: changes/s, lag, last committed position.</summary>
    private sealed class StreamStatus(PipelineLoad owner)
    {
        private readonly Lock _gate = new();
        private ChangeApplyProgress? _latest;
        private long _printedChanges;
        private long _printedAt = Stopwatch.GetTimestamp();

        public void Report(ChangeApplyProgress progress)
        {
            lock (_gate) _latest = progress;
        }

        public void Print()
        {
            ChangeApplyProgress? latest;
            lock (_gate) latest = _latest;
            if (latest is null) return;
            long now = Stopwatch.GetTimestamp();
            double seconds = Stopwatch.GetElapsedTime(_printedAt, now).TotalSeconds;
            if (latest.Changes == _printedChanges) return;
            double rate = seconds > 0 ? (latest.Changes - _printedChanges) / seconds : 0;
            _printedChanges = latest.Changes;
            _printedAt = now;
            owner._display.Line(string.Create(CultureInfo.InvariantCulture,
                $"applied {latest.Changes:N0} change(s) in {latest.Transactions:N0} transaction(s), {rate:N0} changes/s, lag {latest.Lag.TotalSeconds:0.0} s, at {latest.Position}{(latest.DeadLetters > 0 ? $", {latest.DeadLetters:N0} dead letter(s)" : "")}"));
        }
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
