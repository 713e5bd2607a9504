using System.Globalization;
using Dsql.Connector;
using Dsql.Sync.Cdc;
using Dsql.Sync.Pipeline;
using Npgsql;

namespace Dsql.Sync.Tool.Jobs;

/// <summary>
/// <c>dsql-sync status pipeline.yaml</c>: where a pipeline stands, read from both sides and changing nothing: the load
/// job's steps and the applied position (target), the replication slot and how much log is not applied yet (source).
/// </summary>
internal sealed class PipelineStatus(TextWriter output, SyncToolHooks hooks)
{
    public async Task<int> RunAsync(PipelineDefinition pipeline, string name, CancellationToken cancellationToken)
    {
        string slot = pipeline.Source.SlotName ?? PipelineLoad.DefaultSlotName(name);
        await output.WriteLineAsync($"pipeline {name}");

        var builder = pipeline.Sink.CreateDataSourceBuilder();
        hooks.ConfigureSink?.Invoke(builder);
        await using (var sink = builder.Build())
        {
            await output.WriteLineAsync("  load:   " + await LoadStateAsync(sink, name, slot, cancellationToken));
            await output.WriteLineAsync("  target: " + await PositionAsync(sink, name, cancellationToken));
            await output.WriteLineAsync("  dead letters: " + await DeadLettersAsync(sink, name, cancellationToken));
        }

        await using var source = new NpgsqlConnection(pipeline.Source.ToNpgsqlSettings().ConnectionString);
        await source.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT active, active_pid, confirmed_flush_lsn::text, pg_current_wal_lsn()::text, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint " +
            "FROM pg_replication_slots WHERE slot_name = $1", source);
        command.Parameters.Add(new NpgsqlParameter { Value = slot });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            await output.WriteLineAsync($"  source: no replication slot {slot} (dsql-sync run creates it)");
            return SyncTool.Ok;
        }
        string holder = reader.GetBoolean(0) ? $"in use (server process {reader.GetInt32(1)})" : "not in use";
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"  source: slot {slot} {holder}, confirmed up to {reader.GetString(2)}, the source's log is at {reader.GetString(3)}: {reader.GetInt64(4):N0} bytes of log not confirmed yet"));
        return SyncTool.Ok;
    }

    private static async Task<string> LoadStateAsync(DsqlDataSource sink, string name, string slot, CancellationToken cancellationToken)
    {
        // dsql-sync run's load belongs to its slot; dsql-sync load's job is the pipeline's name.
        foreach (string jobId in new[] { name + ":" + slot, name })
        {
            IReadOnlyList<JobStep> steps;
            try
            {
                steps = await new LoadJob(sink, jobId, TimeSpan.FromSeconds(30)).ReadAsync(cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                return "no load has run on this target";
            }
            if (steps.Count == 0) continue;
            var slices = steps.Where(s => s.Phase == StepPhase.Slice).ToList();
            long rows = slices.Sum(s => s.RowsLoaded);
            string state = steps.All(s => s.IsDone) ? "done" : steps.Any(s => s.State == LoadJob.Running) ? "running" : "stopped before the end";
            string errors = steps.FirstOrDefault(s => s.LastError is not null) is { } failed ? $"; last error on {failed.Name}: {failed.LastError}" : "";
            return string.Create(CultureInfo.InvariantCulture,
                $"job {jobId} {state}: {slices.Count(s => s.IsDone):N0} of {slices.Count:N0} slice(s) done, {rows:N0} rows loaded{errors}");
        }
        return "no load job for this pipeline";
    }

    /// <summary>How many changes the pipeline wrote to the dead-letter table, and the latest one: where, which change, why.</summary>
    private static async Task<string> DeadLettersAsync(DsqlDataSource sink, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await sink.ExecuteInTransactionAsync(async (connection, token) =>
            {
                await using var command = new NpgsqlCommand(
                    $"SELECT (SELECT count(*) FROM {DsqlChangeApplierOptions.DefaultDeadLetterTable} WHERE pipeline_id = $1), table_name, kind, commit_lsn, change_index, sql_state, message " +
                    $"FROM {DsqlChangeApplierOptions.DefaultDeadLetterTable} WHERE pipeline_id = $1 ORDER BY failed_at DESC, commit_lsn DESC, change_index DESC LIMIT 1", connection);
                command.Parameters.Add(new NpgsqlParameter { Value = name });
                await using var reader = await command.ExecuteReaderAsync(token);
                if (!await reader.ReadAsync(token)) return "none";
                string message = reader.GetString(6);
                if (message.Length > 200) message = message[..200] + "...";
                return string.Create(CultureInfo.InvariantCulture,
                    $"{reader.GetInt64(0):N0} change(s) in {DsqlChangeApplierOptions.DefaultDeadLetterTable}; the latest: {reader.GetString(2)} on {reader.GetString(1)}, change {reader.GetInt32(4)} of the source transaction committed at {ChangePosition.Lsn((ulong)reader.GetInt64(3))}, refused with {(reader.IsDBNull(5) ? "no SQLSTATE" : reader.GetString(5))}: {message}");
            }, new DsqlTransactionOptions { ReadOnly = true }, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return "none";
        }
    }

    private static async Task<string> PositionAsync(DsqlDataSource sink, string name, CancellationToken cancellationToken)
    {
        try
        {
            var position = await new DsqlChangeApplier(sink, new DsqlChangeApplierOptions { PipelineId = name }).GetPositionAsync(cancellationToken);
            return position.CommitLsn == 0 ? "no change applied yet" : $"changes applied up to {position}";
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return "no change applied yet";
        }
    }
}
