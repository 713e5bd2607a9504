using System.Data;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Npgsql;
using Polly;
using Polly.Retry;

namespace Dsql.Connector;

public sealed partial class DsqlDataSource
{
    private ResiliencePipeline? _defaultTransactionPipeline;

    /// <summary>
    /// Runs <paramref name="work"/> in a DSQL transaction and commits it, running the whole delegate again when the
    /// transaction fails with an optimistic-concurrency conflict (40001: OC000, OC001) or loses its connection before
    /// COMMIT is sent, after an exponential backoff with jitter. Each attempt gets a connection of its own with a
    /// transaction already begun (REPEATABLE READ, the level DSQL runs); do not commit or roll it back in the delegate.
    /// </summary>
    /// <remarks>
    /// The delegate runs once per attempt: effects outside the database (messages, HTTP calls, counters) happen once
    /// per attempt too, so make them idempotent or do them after this method returns.
    /// Pass the delegate's <see cref="CancellationToken"/> to every command: it is cancelled by the transaction guard
    /// (<see cref="DsqlTransactionOptions.Timeout"/>) as well as by <paramref name="cancellationToken"/>.
    /// Conflicts and lost connections share one budget of <see cref="DsqlTransactionOptions.MaxRetries"/> retries.
    /// A failure that is not retried reaches the caller as it was raised (translated by
    /// <see cref="DsqlErrors.Translate(Exception)"/>); so does the last connection error when the retries run out.
    /// </remarks>
    /// <exception cref="DsqlTransactionConflictException">Every attempt failed, the last one with a conflict.</exception>
    /// <exception cref="DsqlTransactionTimeoutException">The transaction guard ended an attempt; nothing was committed.</exception>
    /// <exception cref="DsqlAmbiguousCommitException">The connection failed during COMMIT: the transaction may have been committed.</exception>
    /// <exception cref="DsqlLimitExceededException">A DSQL limit was crossed (rows, size, ...); nothing was committed.</exception>
    /// <exception cref="DsqlUnsupportedFeatureException">DSQL refused a statement.</exception>
    /// <exception cref="NpgsqlException">The connection was lost before COMMIT on the last attempt allowed (nothing was committed; <see cref="NpgsqlException.IsTransient"/>), or another database error.</exception>
    public async Task<T> ExecuteInTransactionAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> work, DsqlTransactionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        options ??= DsqlTransactionOptions.Default;
        options.Validate();
        long started = Stopwatch.GetTimestamp();
        using var activity = StartTransactionActivity();
        var run = new TransactionRun<T>(this, work, options, activity);
        try
        {
            T result;
            try
            {
                // The first attempt runs outside the retry pipeline: most transactions neither conflict nor lose their
                // connection, and those pay nothing for the pipeline.
                result = await run.AttemptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception first) when (run.IsRetryable(first))
            {
                var pipeline = ReferenceEquals(options, DsqlTransactionOptions.Default)
                    ? _defaultTransactionPipeline ??= BuildTransactionPipeline(options)
                    : BuildTransactionPipeline(options);
                run.FirstFailure = first;
                var context = ResilienceContextPool.Shared.Get(cancellationToken);
                context.Properties.Set(TransactionAttempts.Key, run);
                try
                {
                    result = await pipeline.ExecuteAsync(static (context, state) => new ValueTask<T>(state.RetryAsync(context.CancellationToken)), context, run).ConfigureAwait(false);
                }
                catch (Exception last) when (run.IsRetryable(last))
                {
                    run.GaveUp = true;
                    (run.LastEndpoint ?? this).RecordRetriesExhausted(run.RetryReason!);
                    if (run.RetryReason == DsqlTelemetry.RetryReasons.Conflict) throw new DsqlTransactionConflictException(run.Attempts, last);
                    throw; // the connection error itself: nothing was committed, and it says what failed
                }
                finally
                {
                    ResilienceContextPool.Shared.Return(context);
                }
            }
            (run.LastEndpoint ?? this).RecordTransactionEnd(started, activity, run.Attempts, null, connectionLost: false, cancellationToken);
            return result;
        }
        catch (Exception ex)
        {
            bool connectionLost = run.GaveUp && run.RetryReason == DsqlTelemetry.RetryReasons.ConnectionLost;
            (run.LastEndpoint ?? this).RecordTransactionEnd(started, activity, run.Attempts, ex, connectionLost, cancellationToken);
            throw;
        }
    }

    /// <summary>The twin of <see cref="ExecuteInTransactionAsync{T}"/> for work that returns nothing.</summary>
    public Task ExecuteInTransactionAsync(Func<NpgsqlConnection, CancellationToken, Task> work, DsqlTransactionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return ExecuteInTransactionAsync<bool>(async (connection, token) =>
        {
            await work(connection, token).ConfigureAwait(false);
            return true;
        }, options, cancellationToken);
    }

    /// <summary>
    /// Runs one statement on its own (DDL such as <c>CREATE TABLE</c> or <c>CREATE INDEX ASYNC</c>, or a one-off
    /// DML statement), retried on conflicts and lost connections like <see cref="ExecuteInTransactionAsync{T}"/>. DSQL runs one DDL
    /// statement per transaction and never together with DML: this is the way to run it.
    /// </summary>
    /// <returns>The number of rows affected (-1 for statements that affect none).</returns>
    public Task<int> ExecuteNonQueryAsync(string sql, IReadOnlyList<NpgsqlParameter>? parameters = null, DsqlTransactionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sql);
        return ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var command = new NpgsqlCommand(sql, connection);
            if (parameters is not null)
                foreach (var parameter in parameters) command.Parameters.Add(parameter.Clone());
            return await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
        }, options, cancellationToken);
    }

    private ResiliencePipeline BuildTransactionPipeline(DsqlTransactionOptions options)
    {
        if (options.MaxRetries == 0) return ResiliencePipeline.Empty;
        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                Delay = options.BaseDelay,
                MaxDelay = options.MaxDelay,
                UseJitter = options.UseJitter,
                // The first move to another endpoint after a Region failure goes at once: the backoff spreads out
                // contending writers, and the peer has no contention to wait out. Later moves (the peer failing too) back off.
                DelayGenerator = static args => new ValueTask<TimeSpan?>(
                    args.Context.Properties.TryGetValue(TransactionAttempts.Key, out var run) && run.FirstFailover ? TimeSpan.Zero : null),
                // Only what the attempt itself judged safe to run again: a conflict, or a connection lost before COMMIT.
                ShouldHandle = static args => new ValueTask<bool>(
                    args.Outcome.Exception is { } exception
                    && args.Context.Properties.TryGetValue(TransactionAttempts.Key, out var run)
                    && run.IsRetryable(exception)),
                OnRetry = args =>
                {
                    var run = args.Context.Properties.GetValue(TransactionAttempts.Key, null!);
                    string reason = run?.RetryReason ?? DsqlTelemetry.RetryReasons.Conflict;
                    // Counted under the endpoint whose attempt failed (over several endpoints, routing may have moved since).
                    (run?.LastEndpoint ?? this).RecordTransactionRetry(args.AttemptNumber + 2, args.RetryDelay, reason);
                    var exception = args.Outcome.Exception!;
                    if (reason is DsqlTelemetry.RetryReasons.ConnectionLost or DsqlTelemetry.RetryReasons.ServerUnavailable)
                        Log.TransactionConnectionLostRetry(_logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, DescribeConnectionLoss(exception));
                    else
                        Log.TransactionConflictRetry(_logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, DsqlErrors.FindPostgresException(exception)?.MessageText ?? "conflict");
                    return default;
                },
            })
            .Build();
    }

    /// <summary>What ended a lost connection, for the log: the server's SQLSTATE, or the kind of I/O failure; never a message that could quote data.</summary>
    private static string DescribeConnectionLoss(Exception exception)
    {
        if (DsqlErrors.FindPostgresException(exception) is { } postgres) return "SQLSTATE " + postgres.SqlState;
        var innermost = exception;
        for (int depth = 0; innermost.InnerException is not null && depth < 16; depth++) innermost = innermost.InnerException;
        return innermost.GetType().Name;
    }

    /// <summary>What the retry pipeline needs to know of a transaction run, whatever its result type.</summary>
    private abstract class TransactionAttempts
    {
        /// <summary>The key of the run in the pipeline's <see cref="ResilienceContext"/>.</summary>
        public static readonly ResiliencePropertyKey<TransactionAttempts> Key = new("Dsql.Connector.Transaction");

        private Exception? _retryable;

        public int Attempts { get; protected set; }

        /// <summary>Why the last retryable attempt failed: a <see cref="DsqlTelemetry.RetryReasons"/> value.</summary>
        public string? RetryReason { get; private set; }

        /// <summary>The retries ran out (or there were none) on a retryable failure.</summary>
        public bool GaveUp { get; set; }

        /// <summary>
        /// The endpoint the last attempt ran on (over several endpoints; null over one): the transaction metrics are
        /// recorded under it.
        /// </summary>
        public DsqlDataSource? LastEndpoint { get; protected set; }

        /// <summary>The last attempt failed for a Region reason and the next one is the run's first to open on another endpoint.</summary>
        public bool FirstFailover { get; private set; }

        private int _failovers;

        /// <summary>The last attempt failed for a Region reason; the next one opens on another endpoint.</summary>
        protected void NoteFailover() => FirstFailover = ++_failovers == 1;

        /// <summary>An attempt starts: what the one before it set for the delay is spent.</summary>
        protected void ClearFailover() => FirstFailover = false;

        /// <summary>Whether <paramref name="exception"/> is the failure an attempt judged safe to run again.</summary>
        public bool IsRetryable(Exception exception) => ReferenceEquals(exception, _retryable);

        protected void MarkRetryable(Exception exception, string reason)
        {
            _retryable = exception;
            RetryReason = reason;
        }
    }

    /// <summary>One run of a transaction delegate: its attempts, each on a fresh connection and transaction.</summary>
    private sealed class TransactionRun<T>(DsqlDataSource dataSource, Func<NpgsqlConnection, CancellationToken, Task<T>> work, DsqlTransactionOptions options, Activity? activity)
        : TransactionAttempts
    {
        /// <summary>The failure of the attempt made before the retry pipeline, which the pipeline counts as its own first attempt.</summary>
        public Exception? FirstFailure { get; set; }

        /// <summary>The endpoint the last attempt failed on for a Region reason: the next attempt opens elsewhere.</summary>
        private DsqlDataSource? _avoid;

        /// <summary>An attempt inside the retry pipeline: the first call hands the pipeline the earlier failure, so its backoff and logging apply to it.</summary>
        public Task<T> RetryAsync(CancellationToken cancellationToken)
        {
            if (FirstFailure is { } failure)
            {
                FirstFailure = null;
                return Task.FromException<T>(failure);
            }
            return AttemptAsync(cancellationToken);
        }

        public async Task<T> AttemptAsync(CancellationToken cancellationToken)
        {
            int attempt = ++Attempts;
            string? outcome = null; // null: an error, or a cancellation by the caller
            string? servedBy = null; // the endpoint the attempt's connection was opened on
            try
            {
                long started = Stopwatch.GetTimestamp();
                using var guard = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                guard.CancelAfter(options.Timeout);
                // Over several endpoints, an attempt after a Region failure opens away from the endpoint that failed.
                ClearFailover();
                var (connection, endpoint) = await dataSource.OpenForAttemptAsync(_avoid, cancellationToken).ConfigureAwait(false);
                _avoid = null;
                LastEndpoint = endpoint;
                servedBy = endpoint?.Endpoint ?? dataSource.Endpoint;
                NpgsqlTransaction? transaction = null;
                // Set just before COMMIT is handed to Npgsql: from then on the server may commit, whatever becomes of
                // the connection. Before it, a lost connection has committed nothing.
                bool commitSent = false;
                try
                {
                    transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, guard.Token).ConfigureAwait(false);
                    var result = await work(connection, guard.Token).ConfigureAwait(false);
                    // The guard's timer may not have fired yet on a busy thread pool: the clock decides before COMMIT.
                    if (Stopwatch.GetElapsedTime(started) >= options.Timeout) guard.Cancel();
                    guard.Token.ThrowIfCancellationRequested();
                    // The delegate may have caught a lost connection's error and returned: its work is gone with the
                    // connection, and there is nothing to commit.
                    if (IsLost(connection)) throw new DsqlConnectionLostException();
                    if (options.ReadOnly) await EndReadOnlyAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                    else
                    {
                        commitSent = true;
                        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    outcome = DsqlTelemetry.Outcomes.Committed;
                    return result;
                }
                catch (Exception ex) when (GuardTripped(ex, guard, cancellationToken))
                {
                    outcome = DsqlTelemetry.Outcomes.Timeout;
                    (endpoint ?? dataSource).RecordGuardTrip();
                    await RollBackQuietlyAsync(connection, transaction).ConfigureAwait(false);
                    var elapsed = Stopwatch.GetElapsedTime(started);
                    Log.TransactionGuardTripped(dataSource._logger, elapsed.TotalSeconds, options.Timeout.TotalSeconds);
                    throw new DsqlTransactionTimeoutException(elapsed, options.Timeout, ex);
                }
                catch (Exception ex) when (commitSent && !cancellationToken.IsCancellationRequested && IsLost(connection) && !RefusedBeforeSending(ex))
                {
                    // The server may have committed before the connection failed: running the work again could apply it twice.
                    outcome = DsqlTelemetry.Outcomes.AmbiguousCommit;
                    throw new DsqlAmbiguousCommitException(ex);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsLost(connection))
                {
                    // Lost before COMMIT was sent (during BEGIN, the delegate, or just before COMMIT): the server rolls
                    // the transaction back with the session, so the whole delegate can run again on a fresh connection.
                    outcome = DsqlTelemetry.Outcomes.ConnectionLost;
                    (endpoint ?? dataSource).RecordConnectionLoss();
                    if (dataSource.ReportAttemptFailure(endpoint, ex) is not null) { _avoid = endpoint; NoteFailover(); }
                    MarkRetryable(ex, DsqlTelemetry.RetryReasons.ConnectionLost);
                    throw;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && DsqlErrors.IsServerUnavailable(ex))
                {
                    // XX000 server unavailable (a Region impairment). AWS's guidance: run the whole transaction again;
                    // a COMMIT answered so may or may not have committed.
                    if (commitSent)
                    {
                        outcome = DsqlTelemetry.Outcomes.AmbiguousCommit;
                        dataSource.ReportAttemptFailure(endpoint, ex);
                        throw new DsqlAmbiguousCommitException(ex);
                    }
                    outcome = DsqlTelemetry.Outcomes.ServerUnavailable;
                    await RollBackQuietlyAsync(connection, transaction).ConfigureAwait(false);
                    if (dataSource.ReportAttemptFailure(endpoint, ex) is not null) { _avoid = endpoint; NoteFailover(); }
                    MarkRetryable(ex, DsqlTelemetry.RetryReasons.ServerUnavailable);
                    throw;
                }
                catch (Exception ex)
                {
                    if (!commitSent) await RollBackQuietlyAsync(connection, transaction).ConfigureAwait(false);
                    if (DsqlErrors.IsConflict(ex))
                    {
                        outcome = DsqlTelemetry.Outcomes.Conflict;
                        (endpoint ?? dataSource).RecordConflict();
                        // Read-only work cannot conflict on DSQL; should it be told so anyway, it is not run again.
                        if (!options.ReadOnly) MarkRetryable(ex, DsqlTelemetry.RetryReasons.Conflict);
                        throw;
                    }
                    var translated = DsqlErrors.Translate(ex);
                    if (ReferenceEquals(translated, ex)) throw;
                    throw translated;
                }
                finally
                {
                    await DisposeQuietlyAsync(connection, transaction).ConfigureAwait(false);
                }
            }
            finally
            {
                RecordAttemptEnd(activity, attempt, outcome ?? (cancellationToken.IsCancellationRequested ? DsqlTelemetry.Outcomes.Cancelled : DsqlTelemetry.Outcomes.Error), servedBy);
            }
        }

        /// <summary>
        /// The connection of the attempt is gone: Npgsql marks a connection broken before it throws for a network
        /// failure, a server that ended the session (FATAL, e.g. 57P01) or a protocol error. A connection the
        /// delegate closed counts too: closing it rolled the transaction back.
        /// </summary>
        private static bool IsLost(NpgsqlConnection connection) => connection.State != ConnectionState.Open;

        /// <summary>
        /// Npgsql refused to start COMMIT because the connection had already broken (its precondition checks throw
        /// these, before anything is written): COMMIT was not sent.
        /// </summary>
        private static bool RefusedBeforeSending(Exception ex) => ex is ObjectDisposedException or InvalidOperationException;

        /// <summary>The guard, not the caller, stopped the attempt (directly, or through a command it cancelled).</summary>
        private static bool GuardTripped(Exception ex, CancellationTokenSource guard, CancellationToken caller)
            => guard.IsCancellationRequested && !caller.IsCancellationRequested
               && (ex is OperationCanceledException || DsqlErrors.FindPostgresException(ex)?.SqlState == "57014" || ex.InnerException is OperationCanceledException);

        /// <summary>
        /// Ends read-only work with ROLLBACK. Its reads are complete and came from one snapshot, so a connection lost
        /// during this ROLLBACK changes nothing: the server discards the transaction with the session.
        /// </summary>
        private static async Task EndReadOnlyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
        {
            try
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested && IsLost(connection))
            {
            }
        }

        /// <summary>Rolls back after a failure, if the connection is still there. Never throws: the failure that led here is what the caller must see.</summary>
        private static async Task RollBackQuietlyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction)
        {
            // A broken connection's transaction is already disposed by Npgsql (its Connection property throws);
            // the server rolled it back with the session.
            if (transaction is null || IsLost(connection)) return;
            try
            {
                await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The connection broke or the transaction already ended; disposing the connection cleans up.
            }
        }

        /// <summary>Disposes the attempt's transaction and connection. Never throws: neither may replace the attempt's result or its failure.</summary>
        private static async Task DisposeQuietlyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction)
        {
            try
            {
                if (transaction is not null) await transaction.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A transaction that cannot roll back is discarded with its connection below.
            }
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Npgsql discards a connection it cannot reset; the attempt's outcome stands.
            }
        }
    }
}
