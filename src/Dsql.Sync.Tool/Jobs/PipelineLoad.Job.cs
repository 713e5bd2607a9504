using System.Diagnostics;
using System.Globalization;
using Dsql.Connector;
using Dsql.Sync.Bulk;
using Dsql.Sync.Pipeline;
using Dsql.Sync.Schema;
using Dsql.Sync.Tool.Jobs;
using Npgsql;

namespace Dsql.Sync.Tool;

/// <summary>A target table exists and differs from its mapping (the differences are printed): exit 2.</summary>
internal sealed class TargetTableMismatchException() : Exception("A target table exists and differs from its mapping.");

/// <summary>What every worker of one load shares.</summary>
/// <param name="Pipeline">The pipeline file.</param>
/// <param name="Mapping">The source schema mapped to DSQL.</param>
/// <param name="Source">The source database.</param>
/// <param name="Sink">The target.</param>
/// <param name="Job">The job's table.</param>
/// <param name="Checkpoint">The chunk checkpoints.</param>
/// <param name="SourceSnapshot">
/// A snapshot exported by the source (the replication slot's, when <c>run</c> begins change capture): every slice
/// reads it, so the load holds exactly what committed before the slot's start. Null: each slice reads the source as it is.
/// </param>
internal sealed record JobContext(PipelineDefinition Pipeline, SchemaMapping Mapping, NpgsqlDataSource Source, DsqlDataSource Sink,
    LoadJob Job, DsqlTableCheckpoint Checkpoint, string? SourceSnapshot = null);

/// <summary>The job half of <c>load</c>: this process's workers claim steps from the job table until the job is done.</summary>
internal sealed partial class PipelineLoad
{
    private readonly TableTally _tally = new();
    private readonly Lock _waitGate = new();
    private string? _lastWait;
    private TaskCompletionSource _stepEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task<int> RunJobAsync(JobContext context, Stopwatch clock, CancellationToken cancellationToken)
    {
        var names = context.Mapping.Tables.Select(Name).ToList();
        int workers = context.Pipeline.Pipeline.Parallelism;
        Line($"job {context.Job.JobId}: {settings.ProcessName} joins with {workers} worker(s); other processes running the same pipeline share the work.");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? failure = null;
        await _display.RunAsync(names, async () =>
        {
            var tasks = Enumerable.Range(0, workers).Select(i => Task.Run(async () =>
            {
                try
                {
                    await WorkAsync(context, settings.ProcessName + "/" + i.ToString(CultureInfo.InvariantCulture), stop.Token);
                }
                catch (Exception ex)
                {
                    // The first real failure stops this process's other workers; they give their steps back.
                    if (!(ex is OperationCanceledException && stop.IsCancellationRequested)) Interlocked.CompareExchange(ref failure, ex, null);
                    await stop.CancelAsync();
                }
            }, CancellationToken.None)).ToArray();
            await Task.WhenAll(tasks);
        });
        if (failure is not null) throw failure;
        cancellationToken.ThrowIfCancellationRequested();

        var steps = await context.Job.ReadAsync(cancellationToken);
        Line($"loaded {names.Count} table(s) in {clock.Elapsed.TotalSeconds:0.0} s:");
        foreach (string name in names)
        {
            long total = steps.Where(s => s.Phase == StepPhase.Slice && s.Table == name).Sum(s => s.RowsLoaded);
            var mine = _tally.Of(name);
            _display.Done(name, mine);
            Line($"  {name}: {total:N0} rows loaded; this process wrote {mine.Rows:N0} and skipped {mine.RowsSkipped:N0} already loaded");
        }
        return SyncTool.Ok;
    }

    private static string Name(TableMapping table) => table.Schema + "." + table.Name;

    /// <summary>One worker: claim a step, run it under a lease, mark it done; until the job is done.</summary>
    private async Task WorkAsync(JobContext context, string owner, CancellationToken cancellationToken)
    {
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(context.Job.Lease.TotalMilliseconds / 10, 100, 2000));
        while (true)
        {
            var claim = await context.Job.ClaimAsync(owner, cancellationToken);
            if (claim.JobDone) return;
            if (claim.Step is null)
            {
                if (claim.WaitingFor is { } waiting) Waiting(waiting);
                // Another process's step is seen at the next poll; one of this process's as soon as it ends.
                Task ended;
                lock (_waitGate) ended = _stepEnded.Task;
                await Task.WhenAny(Task.Delay(poll, cancellationToken), ended);
                cancellationToken.ThrowIfCancellationRequested();
                continue;
            }
            try
            {
                await RunStepAsync(context, claim.Step, owner, cancellationToken);
            }
            finally
            {
                TaskCompletionSource ended;
                lock (_waitGate)
                {
                    ended = _stepEnded;
                    _stepEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                ended.TrySetResult();
            }
        }
    }

    private void Waiting(string what)
    {
        lock (_waitGate)
        {
            if (what == _lastWait) return;
            _lastWait = what;
        }
        Line($"waiting for {what}");
    }

    private async Task RunStepAsync(JobContext context, JobStep step, string owner, CancellationToken cancellationToken)
    {
        if (step.Attempts > 1) Line($"{step.Name}: taken over (attempt {step.Attempts}{(step.LastError is { } why ? "; last error: " + why : "")})");
        using var lease = new LeaseKeeper(context.Job, step.Name, owner, cancellationToken);
        try
        {
            long rows = step.Phase switch
            {
                StepPhase.Schema => await SchemaStepAsync(context, lease.Token),
                StepPhase.Slice => await SliceStepAsync(context, step, lease.Token),
                _ => await FinishStepAsync(context, lease.Token),
            };
            await lease.StopAsync();
            if (!await context.Job.CompleteAsync(step.Name, owner, rows, cancellationToken))
                Line($"{step.Name}: another worker took it over before it was marked done; what this worker committed stays, and the other skips it");
        }
        catch (OperationCanceledException) when (lease.Lost && !cancellationToken.IsCancellationRequested)
        {
            await lease.StopAsync();
            Line($"{step.Name}: lease lost (not renewed within {context.Job.Lease.TotalSeconds:0} s); the step is left to the worker that took it over");
        }
        catch (Exception ex)
        {
            await lease.StopAsync();
            string why = cancellationToken.IsCancellationRequested ? "interrupted" : ex.Message;
            // Give the step back so that another process takes it now instead of after the lease; best effort.
            using var release = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await context.Job.ReleaseAsync(step.Name, owner, why.Length > 1000 ? why[..1000] : why, release.Token);
            }
            catch (Exception releaseError) when (releaseError is NpgsqlException or OperationCanceledException or TimeoutException)
            {
                // The lease runs out by itself.
            }
            throw;
        }
    }

    private async Task<long> SchemaStepAsync(JobContext context, CancellationToken cancellationToken)
    {
        await using (var connection = await context.Sink.OpenConnectionAsync(cancellationToken))
        {
            if (!await ApplyAsync(connection, context.Mapping, DdlPhase.BeforeLoad, cancellationToken)) throw new TargetTableMismatchException();
        }
        foreach (var table in context.Mapping.Tables)
        {
            string name = Name(table);
            if (await context.Job.HasSlicesAsync(name, cancellationToken)) continue;
            long pages = await SourcePagesAsync(context.Source, table, cancellationToken);
            var slices = LoadJob.Plan(pages, settings.SlicePages);
            await context.Job.AddSlicesAsync(name, slices, cancellationToken);
            Line($"plan: {name}: {pages:N0} source page(s) in {slices.Count:N0} slice(s)");
        }
        return 0;
    }

    private static async Task<long> SourcePagesAsync(NpgsqlDataSource source, TableMapping table, CancellationToken cancellationToken)
    {
        // A partitioned table is read through its parent; its slices cut every partition at the same page numbers, so
        // the largest partition sets the count. pg_partition_tree has no rows for a table outside any partition tree.
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT coalesce((SELECT max(pg_relation_size(relid)) FROM pg_partition_tree($1::regclass)), pg_relation_size($1::regclass)) / current_setting('block_size')::bigint",
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = table.QualifiedName });
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private async Task<long> SliceStepAsync(JobContext context, JobStep step, CancellationToken cancellationToken)
    {
        var table = context.Mapping.Tables.FirstOrDefault(t => Name(t) == step.Table)
            ?? throw new InvalidOperationException($"Job '{context.Job.JobId}' has a slice of {step.Table}, which this pipeline file does not select: run it with the file that started the job, or give the pipeline another name.");
        string name = Name(table);
        var progress = new SynchronousProgress(p =>
        {
            var sum = _tally.Update(name, step.Name, p);
            _display.Report(name, sum);
            hooks.OnProgress?.Invoke(name, sum);
        });
        var result = await LoadSliceAsync(context, table, step, progress, cancellationToken);
        _tally.Update(name, step.Name, result);
        return result.Rows + result.RowsSkipped;
    }

    private async Task<long> FinishStepAsync(JobContext context, CancellationToken cancellationToken)
    {
        await using var connection = await context.Sink.OpenConnectionAsync(cancellationToken);
        await ApplyAsync(connection, context.Mapping, DdlPhase.AfterLoad, cancellationToken);
        return 0;
    }

    private sealed class SynchronousProgress(Action<BulkProgress> report) : IProgress<BulkProgress>
    {
        public void Report(BulkProgress value) => report(value);
    }

    /// <summary>This process's rows per table: the latest report of each slice it worked on, summed.</summary>
    private sealed class TableTally
    {
        private readonly Lock _gate = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Dictionary<string, Dictionary<string, BulkProgress>> _slices = new(StringComparer.Ordinal);

        public BulkProgress Update(string table, string slice, BulkProgress progress)
        {
            lock (_gate)
            {
                if (!_slices.TryGetValue(table, out var slices)) _slices[table] = slices = new(StringComparer.Ordinal);
                slices[slice] = progress;
                return Sum(slices.Values, progress);
            }
        }

        public BulkProgress Of(string table)
        {
            lock (_gate)
            {
                return _slices.TryGetValue(table, out var slices) ? Sum(slices.Values, null) : new BulkProgress { Elapsed = _clock.Elapsed };
            }
        }

        private BulkProgress Sum(IEnumerable<BulkProgress> slices, BulkProgress? latest) => new()
        {
            Rows = slices.Sum(p => p.Rows),
            Bytes = slices.Sum(p => p.Bytes),
            Chunks = slices.Sum(p => p.Chunks),
            ChunksSkipped = slices.Sum(p => p.ChunksSkipped),
            RowsSkipped = slices.Sum(p => p.RowsSkipped),
            Elapsed = _clock.Elapsed,
            ChunkLatencyP50 = latest?.ChunkLatencyP50 ?? TimeSpan.Zero,
            ChunkLatencyP95 = latest?.ChunkLatencyP95 ?? TimeSpan.Zero,
            ChunkLatencyP99 = latest?.ChunkLatencyP99 ?? TimeSpan.Zero,
        };
    }
}
