using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Dsql.Emulator.Sql;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Backend;

/// <summary>
/// Runs DSQL's asynchronous DDL jobs (<c>CREATE INDEX ASYNC</c>, <c>ALTER TABLE ASYNC ... VALIDATE CONSTRAINT</c>)
/// in the background, as DSQL does, and records their progress in <c>sys.jobs</c>.
/// </summary>
/// <remarks>
/// A job exists once the transaction that submitted it commits (the submitting statement writes its row). The
/// runner claims submitted jobs (an atomic update, so several emulators on one backend never run a job twice),
/// and runs each on a connection of its own, logged in as the role that submitted it:
/// <list type="bullet">
/// <item>an index is built with <c>CREATE INDEX CONCURRENTLY</c>, which is what DSQL's build looks like from a
/// session: the index is in the catalog at once, not valid until the build ends, reads and writes go on, a
/// failed build leaves it invalid (a unique one still enforcing uniqueness), and <c>DROP INDEX</c> cancels it.
/// A second connection holds a lock that keeps the build in its wait phase until the job's minimum duration has
/// passed, because DSQL's builds take seconds and clients must not see an index valid at once;</item>
/// <item>a constraint is validated with <c>ALTER TABLE ... VALIDATE CONSTRAINT</c> after the minimum duration.</item>
/// </list>
/// </remarks>
internal sealed class JobRunner : IAsyncDisposable
{
    private const string ApplicationName = "dsql_emulator_jobs";
    private static readonly TimeSpan StartWaitLimit = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CatalogPollInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>A job submitted through another emulator on the same backend is left to that emulator's runner this long.</summary>
    private static readonly TimeSpan OrphanAfter = TimeSpan.FromSeconds(2);

    private readonly BackendTarget _target;
    private readonly BackendTarget _sessions;
    private readonly string _ownRole;
    private readonly ILogger _logger;
    private readonly TimeSpan _minimumDuration;
    private readonly TimeSpan _pollInterval;
    private readonly BackendConnection _control;
    private readonly SemaphoreSlim _controlLock = new(1, 1);
    private readonly SemaphoreSlim _kick = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, RunningJob> _running = new(StringComparer.Ordinal);
    private volatile JobSummary[] _unfinished = [];
    private Task _loop = Task.CompletedTask;
    private int _disposed;

    private JobRunner(BackendTarget target, BackendTarget sessions, string ownRole, BackendConnection control, TimeSpan minimumDuration, TimeSpan pollInterval, ILogger logger)
    {
        _target = target;
        _sessions = sessions;
        _ownRole = ownRole;
        _control = control;
        _minimumDuration = minimumDuration;
        _pollInterval = pollInterval;
        _logger = logger;
    }

    /// <summary>A job in <c>sys.jobs</c> that has not finished, as the last look saw it.</summary>
    internal sealed record JobSummary(string JobId, string Status, string JobType, string? ObjectName);

    /// <summary>
    /// Starts polling through <paramref name="control"/>, a superuser's connection to <paramref name="target"/> that
    /// the runner owns from now on (the installation's, named for the runner). Jobs run as the role that submitted
    /// them, through <paramref name="sessions"/> as client sessions do.
    /// </summary>
    public static async Task<JobRunner> StartAsync(BackendTarget target, BackendConnection control, BackendTarget sessions, TimeSpan minimumDuration, TimeSpan pollInterval, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await control.QueryAsync($"SET application_name = {Quote(ApplicationName)}", cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            control.Dispose();
            throw;
        }
        string role = target.User ?? PostgresCluster.SuperUser;
        var runner = new JobRunner(target, sessions, role, control, minimumDuration, pollInterval, logger);
        runner._loop = Task.Run(runner.RunLoopAsync, CancellationToken.None);
        return runner;
    }

    /// <summary>Runs one statement on the runner's superuser connection, between its own (for the emulator's shutdown).</summary>
    public Task<List<string?>> QueryAsync(string sql, CancellationToken cancellationToken) => ControlAsync(sql, cancellationToken);

    /// <summary>Names this runner in the jobs its emulator's sessions submit; it claims those first.</summary>
    public string Id { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();

    /// <summary>Jobs not finished at the last look (this runner's and other emulators').</summary>
    public IReadOnlyList<JobSummary> Unfinished => _unfinished;

    /// <summary>Asks the runner to look for submitted jobs now rather than at its next poll.</summary>
    public void Kick()
    {
        if (_kick.CurrentCount == 0) _kick.Release();
    }

    /// <summary>
    /// Waits until each job is running with its object in the catalog (an index build's index exists), or has
    /// finished, or does not exist (its transaction rolled back); at most a few seconds in all. Called before a
    /// session learns that its submitting transaction ended, so that the index is in the catalog by then, as on DSQL.
    /// </summary>
    public async Task AwaitStartedAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken)
    {
        Kick();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        limit.CancelAfter(StartWaitLimit);
        try
        {
            foreach (string id in jobIds)
            {
                while (true)
                {
                    if (_running.TryGetValue(id, out var running))
                    {
                        await running.Started.Task.WaitAsync(limit.Token).ConfigureAwait(false);
                        break;
                    }
                    string? row = (await ControlAsync($"SELECT status || ',' || job_type || ',' || (object_id IS NOT NULL)::text FROM pg_catalog.dsql_emulator_jobs WHERE job_id = {Quote(id)}", limit.Token).ConfigureAwait(false)).FirstOrDefault();
                    if (row is null) break; // rolled back
                    string[] parts = row.Split(',');
                    bool final = parts[0] is JobsSchema.Completed or JobsSchema.Failed or JobsSchema.Cancelled;
                    if (final || (parts[0] != JobsSchema.Submitted && (parts[1] != JobsSchema.IndexBuild || parts[2] == "true"))) break;
                    Kick();
                    await Task.Delay(CatalogPollInterval, limit.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Waited long enough (a build queued behind another on the same table): the session goes on.
        }
        catch (Exception ex) when (ex is IOException or BackendErrorException or ObjectDisposedException)
        {
            Log.JobRunnerFailed(_logger, ex.Message);
        }
    }

    /// <summary>True when an index build for <paramref name="name"/> (in <paramref name="schema"/>, or in any schema when null) has not finished.</summary>
    public bool IsIndexBuildUnfinished(string? schema, string name)
    {
        foreach (var job in _running.Values)
            if (job.JobType == JobsSchema.IndexBuild && !job.Finished && NameMatches(job.ObjectName, schema, name)) return true;
        foreach (var job in _unfinished)
            if (job.JobType == JobsSchema.IndexBuild && !_running.ContainsKey(job.JobId) && NameMatches(job.ObjectName, schema, name)) return true;
        return false;
    }

    /// <summary>Cancels this runner's unfinished builds of the index <paramref name="name"/>, as DSQL's DROP INDEX does; returns how many.</summary>
    public int CancelIndexBuilds(string? schema, string name)
    {
        int count = 0;
        foreach (var job in _running.Values)
        {
            if (job.JobType != JobsSchema.IndexBuild || job.Finished || !NameMatches(job.ObjectName, schema, name)) continue;
            count++;
            _ = CancelAsync(job, shuttingDown: false);
        }
        return count;
    }

    /// <summary>Cancels this runner's unfinished jobs on the table <paramref name="name"/> (a DROP TABLE is coming); returns how many.</summary>
    public int CancelJobsOnTable(string? schema, string name)
    {
        int count = 0;
        foreach (var job in _running.Values)
        {
            if (job.Finished || !NameMatches(job.Row.TableSchema + "." + job.Row.TableName, schema, name)) continue;
            count++;
            _ = CancelAsync(job, shuttingDown: false);
        }
        return count;
    }

    private static bool NameMatches(string? objectName, string? schema, string name)
    {
        if (objectName is null) return false;
        return schema is null
            ? objectName.EndsWith("." + name, StringComparison.Ordinal)
            : objectName.Equals(schema + "." + name, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- the loop

    private async Task RunLoopAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await PollAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is IOException or BackendErrorException or ObjectDisposedException or System.Net.Sockets.SocketException or JsonException)
            {
                Log.JobRunnerFailed(_logger, ex.Message);
                if (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException) return; // the backend is gone
            }
            try
            {
                await _kick.WaitAsync(_pollInterval, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        var rows = await ControlAsync("""
            SELECT json_build_object('id', job_id, 'status', status, 'type', job_type, 'object', object_name,
                   'statement', statement, 'role', submitted_by, 'path', search_path, 'table', table_id::regclass::text,
                   'tschema', n.nspname, 'tname', c.relname)::text
              FROM pg_catalog.dsql_emulator_jobs j LEFT JOIN pg_class c ON c.oid = j.table_id LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE status IN ('submitted', 'processing') ORDER BY start_time, job_id
            """, cancellationToken).ConfigureAwait(false);
        var unfinished = new JobSummary[rows.Count];
        var submitted = new List<JobRow>();
        for (int i = 0; i < rows.Count; i++)
        {
            using var document = JsonDocument.Parse(rows[i]!);
            var root = document.RootElement;
            var row = new JobRow(root.GetProperty("id").GetString()!, root.GetProperty("status").GetString()!, root.GetProperty("type").GetString()!,
                root.GetProperty("object").GetString(), root.GetProperty("statement").GetString()!, root.GetProperty("role").GetString()!,
                root.GetProperty("path").GetString() ?? "", root.GetProperty("table").GetString() ?? "",
                root.GetProperty("tschema").GetString() ?? "", root.GetProperty("tname").GetString() ?? "");
            unfinished[i] = new JobSummary(row.JobId, row.Status, row.JobType, row.ObjectName);
            if (row.Status == JobsSchema.Submitted) submitted.Add(row);
        }
        _unfinished = unfinished;
        foreach (var row in submitted)
        {
            if (_running.ContainsKey(row.JobId)) continue;
            var claimed = await ControlAsync(
                $"UPDATE pg_catalog.dsql_emulator_jobs SET status = 'processing', update_time = now() WHERE job_id = {Quote(row.JobId)} AND status = 'submitted' AND (runner IN ('', {Quote(Id)}) OR update_time < now() - interval '{(int)OrphanAfter.TotalSeconds} seconds') RETURNING job_id",
                cancellationToken).ConfigureAwait(false);
            if (claimed.Count == 0) continue; // another emulator's job, or taken by another emulator
            var job = new RunningJob(row, _stopping.Token);
            if (!_running.TryAdd(row.JobId, job)) continue;
            job.Task = Task.Run(() => RunJobAsync(job), CancellationToken.None);
        }
        if (submitted.Count > 0)
        {
            // DSQL prunes finished jobs older than 30 minutes when it next runs a job.
            await ControlAsync(
                $"DELETE FROM pg_catalog.dsql_emulator_jobs WHERE status IN ('completed', 'failed', 'cancelled') AND update_time < now() - interval '{(int)JobsSchema.Retention.TotalSeconds} seconds'",
                cancellationToken).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- one job

    private async Task RunJobAsync(RunningJob job)
    {
        var row = job.Row;
        Log.JobStarted(_logger, row.JobId, row.JobType, row.Statement);
        BackendConnection? hold = null;
        BackendConnection? work = null;
        string status = JobsSchema.Failed;
        string? details = null;
        try
        {
            if (!IsExpectedStatement(row))
            {
                details = "the job's statement is not one the emulator runs as a job";
                return;
            }
            var parameters = new List<KeyValuePair<string, string>> { new("application_name", ApplicationName) };
            if (row.SearchPath.Length > 0) parameters.Add(new("search_path", row.SearchPath));
            var deadline = DateTime.UtcNow + _minimumDuration;
            if (row.JobType == JobsSchema.IndexBuild)
            {
                // Keep the build in its wait phase (the index in the catalog, not valid) for the minimum duration.
                hold = await BackendConnection.OpenAsync(_target, _ownRole, [new("application_name", ApplicationName)], job.Cancellation.Token, allowSuperuser: true).ConfigureAwait(false);
                await hold.QueryAsync($"BEGIN; LOCK TABLE {row.Table} IN ROW EXCLUSIVE MODE", job.Cancellation.Token).ConfigureAwait(false);
            }
            work = await BackendConnection.OpenAsync(_sessions, row.Role, parameters, job.Cancellation.Token).ConfigureAwait(false);
            job.Work = work;
            if (job.Cancellation.IsCancellationRequested) throw new OperationCanceledException(job.Cancellation.Token);
            if (row.JobType == JobsSchema.IndexBuild)
            {
                var build = work.QueryAsync(row.Statement, CancellationToken.None);
                await AwaitIndexInCatalogAsync(job, work, build).ConfigureAwait(false);
                job.Started.TrySetResult();
                await DelayUntilAsync(deadline, job.Cancellation.Token).ConfigureAwait(false);
                await hold!.QueryAsync("ROLLBACK", CancellationToken.None).ConfigureAwait(false);
                await build.ConfigureAwait(false);
            }
            else
            {
                job.Started.TrySetResult();
                await DelayUntilAsync(deadline, job.Cancellation.Token).ConfigureAwait(false);
                await work.QueryAsync(row.Statement, CancellationToken.None).ConfigureAwait(false);
            }
            status = JobsSchema.Completed;
        }
        catch (OperationCanceledException)
        {
            (status, details) = job.ShuttingDown ? (JobsSchema.Failed, "the emulator stopped during the job") : (JobsSchema.Cancelled, null);
        }
        catch (BackendErrorException ex)
        {
            (status, details) = job.CancelRequested
                ? (job.ShuttingDown ? JobsSchema.Failed : JobsSchema.Cancelled, job.ShuttingDown ? "the emulator stopped during the job" : null)
                : (JobsSchema.Failed, ex.Fields.Message);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or BackendLoginException)
        {
            details = ex.Message;
        }
        finally
        {
            job.Finished = true;
            job.Started.TrySetResult();
            try
            {
                if (hold is not null && job.CancelRequested) await hold.QueryAsync("ROLLBACK", CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or BackendErrorException or ObjectDisposedException or System.Net.Sockets.SocketException)
            {
                // The connection is closed below anyway.
            }
            hold?.Dispose();
            work?.Dispose();
            await FinishAsync(job, status, details).ConfigureAwait(false);
            _unfinished = Array.FindAll(_unfinished, j => j.JobId != row.JobId);
            _running.TryRemove(row.JobId, out _);
        }
    }

    private static bool IsExpectedStatement(JobRow row)
    {
        var statements = new List<StatementInfo>(2);
        SqlAnalyzer.Analyze(row.Statement, statements);
        StatementInfo? only = null;
        foreach (var s in statements)
        {
            if (s.Kind == StatementKind.Empty) continue;
            if (only is not null) return false;
            only = s;
        }
        if (only is null) return false;
        var parsed = AsyncDdl.Parse(row.Statement, only);
        return row.JobType == JobsSchema.IndexBuild ? parsed.Kind == AsyncDdlKind.CreateIndexConcurrently : parsed.Kind == AsyncDdlKind.ValidateConstraint;
    }

    private async Task AwaitIndexInCatalogAsync(RunningJob job, BackendConnection work, Task build)
    {
        while (!build.IsCompleted)
        {
            string? found = (await ControlAsync(
                $"SELECT p.index_relid::text || ' ' || n.nspname || '.' || c.relname FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pid = {work.ProcessId.ToString(CultureInfo.InvariantCulture)}",
                job.Cancellation.Token).ConfigureAwait(false)).FirstOrDefault();
            if (found is not null)
            {
                int space = found.IndexOf(' ', StringComparison.Ordinal);
                job.ObjectName = found[(space + 1)..];
                await ControlAsync(
                    $"UPDATE pg_catalog.dsql_emulator_jobs SET object_id = {found[..space]}, object_name = {Quote(job.ObjectName)}, update_time = now() WHERE job_id = {Quote(job.Row.JobId)}",
                    job.Cancellation.Token).ConfigureAwait(false);
                return;
            }
            await Task.WhenAny(build, Task.Delay(CatalogPollInterval, job.Cancellation.Token)).ConfigureAwait(false);
            job.Cancellation.Token.ThrowIfCancellationRequested();
        }
    }

    private static async Task DelayUntilAsync(DateTime deadline, CancellationToken cancellationToken)
    {
        var remaining = deadline - DateTime.UtcNow;
        if (remaining > TimeSpan.Zero) await Task.Delay(remaining, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    private async Task FinishAsync(RunningJob job, string status, string? details)
    {
        var row = job.Row;
        try
        {
            // An index build that never reached the catalog (IF NOT EXISTS skipped it, or it failed at once) is
            // looked up by name when it has one.
            string objectUpdate = row.JobType == JobsSchema.IndexBuild
                ? ", object_id = coalesce(object_id, to_regclass(quote_ident(split_part(object_name, '.', 1)) || '.' || quote_ident(substr(object_name, length(split_part(object_name, '.', 1)) + 2)))::oid)"
                : "";
            await ControlAsync(
                $"UPDATE pg_catalog.dsql_emulator_jobs SET status = {Quote(status)}, details = {(details is null ? "NULL" : Quote(details))}, update_time = now(){objectUpdate} WHERE job_id = {Quote(row.JobId)}",
                CancellationToken.None).ConfigureAwait(false);
            if (status == JobsSchema.Completed) Log.JobCompleted(_logger, row.JobId, row.JobType);
            else Log.JobFailed(_logger, row.JobId, row.JobType, status, details ?? "");
        }
        catch (Exception ex) when (ex is IOException or BackendErrorException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            Log.JobRunnerFailed(_logger, ex.Message);
        }
    }

    private async Task CancelAsync(RunningJob job, bool shuttingDown)
    {
        job.ShuttingDown |= shuttingDown;
        job.CancelRequested = true;
        try { job.Cancellation.Cancel(); } catch (ObjectDisposedException) { }
        var work = job.Work;
        if (work is null) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await BackendConnection.SendCancelAsync(_target, work.ProcessId, work.SecretKey, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            Log.JobRunnerFailed(_logger, ex.Message);
        }
    }

    private async Task<List<string?>> ControlAsync(string sql, CancellationToken cancellationToken)
    {
        await _controlLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await _control.QueryAsync(sql, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _controlLock.Release();
        }
    }

    private static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Stops polling; running jobs are cancelled and recorded as failed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var job in _running.Values) await CancelAsync(job, shuttingDown: true).ConfigureAwait(false);
        _stopping.Cancel();
        var tasks = _running.Values.Select(j => j.Task).Append(_loop).ToArray();
        try
        {
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // Left to end with the backend.
        }
        _control.Dispose();
        _stopping.Dispose();
    }

    private sealed record JobRow(string JobId, string Status, string JobType, string? ObjectName, string Statement, string Role, string SearchPath, string Table, string TableSchema, string TableName);

    private sealed class RunningJob(JobRow row, CancellationToken stopping)
    {
        public JobRow Row { get; } = row;
        public string JobType => Row.JobType;
        public volatile string? ObjectName = row.ObjectName;
        public CancellationTokenSource Cancellation { get; } = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public volatile BackendConnection? Work;
        public volatile bool Finished;
        public volatile bool CancelRequested;
        public volatile bool ShuttingDown;
        public Task Task { get; set; } = Task.CompletedTask;
    }
}
