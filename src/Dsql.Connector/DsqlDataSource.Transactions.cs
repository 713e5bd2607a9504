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
    /// transaction fails with an optimistic-concurrency conflict (40001: OC000, OC001), after an exponential backoff
    /// with jitter. Each attempt gets a connection of its own with a transaction already begun (REPEATABLE READ,
    /// the level DSQL runs); do not commit or roll it back in the delegate.
    /// </summary>
    /// <remarks>
    /// The delegate runs once per attempt: effects outside the database (messages, HTTP calls, counters) happen once
    /// per attempt too, so make them idempotent or do them after this method returns.
    /// Pass the delegate's <see cref="CancellationToken"/> to every command: it is cancelled by the transaction guard
    /// (<see cref="DsqlTransactionOptions.Timeout"/>) as well as by <paramref name="cancellationToken"/>.
    /// </remarks>
    /// <exception cref="DsqlTransactionConflictException">Every attempt conflicted.</exception>
    /// <exception cref="DsqlTransactionTimeoutException">The transaction guard ended an attempt; nothing was committed.</exception>
    /// <exception cref="DsqlAmbiguousCommitException">The connection failed during COMMIT: the transaction may have been committed.</exception>
    /// <exception cref="DsqlLimitExceededException">A DSQL limit was crossed (rows, size, ...); nothing was committed.</exception>
    /// <exception cref="DsqlUnsupportedFeatureException">DSQL refused a statement.</exception>
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
                // The first attempt runs outside the retry pipeline: most transactions do not conflict, and those
                // pay nothing for the pipeline. Read-only work never conflicts and is never retried.
                result = await run.AttemptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception first) when (!options.ReadOnly && DsqlErrors.IsConflict(first))
            {
                var pipeline = ReferenceEquals(options, DsqlTransactionOptions.Default)
                    ? _defaultTransactionPipeline ??= BuildTransactionPipeline(options)
                    : BuildTransactionPipeline(options);
                run.FirstConflict = first;
                try
                {
                    result = await pipeline.ExecuteAsync(static (state, token) => new ValueTask<T>(state.RetryAsync(token)), run, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (DsqlErrors.IsConflict(ex))
                {
                    RecordRetriesExhausted();
                    throw new DsqlTransactionConflictException(run.Attempts, ex);
                }
            }
            RecordTransactionEnd(started, activity, run.Attempts, null, cancellationToken);
            return result;
        }
        catch (Exception ex)
        {
            RecordTransactionEnd(started, activity, run.Attempts, ex, cancellationToken);
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
    /// DML statement), retried on conflicts like <see cref="ExecuteInTransactionAsync{T}"/>. DSQL runs one DDL
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
                ShouldHandle = new PredicateBuilder().Handle<Exception>(DsqlErrors.IsConflict),
                OnRetry = args =>
                {
                    RecordTransactionRetry(args.AttemptNumber + 2, args.RetryDelay);
                    Log.TransactionConflictRetry(_logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, DsqlErrors.FindPostgresException(args.Outcome.Exception!)?.MessageText ?? "conflict");
                    return default;
                },
            })
            .Build();
    }

    /// <summary>One run of a transaction delegate: its attempts, each on a fresh connection and transaction.</summary>
    private sealed class TransactionRun<T>(DsqlDataSource dataSource, Func<NpgsqlConnection, CancellationToken, Task<T>> work, DsqlTransactionOptions options, Activity? activity)
    {
        public int Attempts { get; private set; }

        /// <summary>The conflict of the attempt made before the retry pipeline, which the pipeline counts as its own first attempt.</summary>
        public Exception? FirstConflict { get; set; }

        /// <summary>An attempt inside the retry pipeline: the first call hands the pipeline the earlier conflict, so its backoff and logging apply to it.</summary>
        public Task<T> RetryAsync(CancellationToken cancellationToken)
        {
            if (FirstConflict is { } conflict)
            {
                FirstConflict = null;
                return Task.FromException<T>(conflict);
            }
            return AttemptAsync(cancellationToken);
        }

        public async Task<T> AttemptAsync(CancellationToken cancellationToken)
        {
            int attempt = ++Attempts;
            string? outcome = null; // null: an error, or a cancellation by the caller
            try
            {
                long started = Stopwatch.GetTimestamp();
                using var guard = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                guard.CancelAfter(options.Timeout);
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                NpgsqlTransaction? transaction = null;
                bool committing = false;
                try
                {
                    transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, guard.Token).ConfigureAwait(false);
                    var result = await work(connection, guard.Token).ConfigureAwait(false);
                    guard.Token.ThrowIfCancellationRequested();
                    committing = true;
                    if (options.ReadOnly) await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                    else await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    outcome = DsqlTelemetry.Outcomes.Committed;
                    return result;
                }
                catch (Exception ex) when (GuardTripped(ex, guard, cancellationToken))
                {
                    outcome = DsqlTelemetry.Outcomes.Timeout;
                    dataSource.RecordGuardTrip();
                    await RollBackQuietlyAsync(transaction).ConfigureAwait(false);
                    var elapsed = Stopwatch.GetElapsedTime(started);
                    Log.TransactionGuardTripped(dataSource._logger, elapsed.TotalSeconds, options.Timeout.TotalSeconds);
                    throw new DsqlTransactionTimeoutException(elapsed, options.Timeout, ex);
                }
                catch (NpgsqlException ex) when (committing && IsConnectionLoss(ex) && !cancellationToken.IsCancellationRequested)
                {
                    // The server may have committed before the connection failed: running the work again could apply it twice.
                    outcome = DsqlTelemetry.Outcomes.AmbiguousCommit;
                    throw new DsqlAmbiguousCommitException(ex);
                }
                catch (Exception ex)
                {
                    if (!committing) await RollBackQuietlyAsync(transaction).ConfigureAwait(false);
                    if (DsqlErrors.IsConflict(ex))
                    {
                        outcome = DsqlTelemetry.Outcomes.Conflict;
                        dataSource.RecordConflict();
                        throw;
                    }
                    var translated = DsqlErrors.Translate(ex);
                    if (ReferenceEquals(translated, ex)) throw;
                    throw translated;
                }
                finally
                {
                    if (transaction is not null) await transaction.DisposeAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                RecordAttemptEnd(activity, attempt, outcome ?? (cancellationToken.IsCancellationRequested ? DsqlTelemetry.Outcomes.Cancelled : DsqlTelemetry.Outcomes.Error));
            }
        }

        /// <summary>The connection failed (network, or the server ending the session), as opposed to the server answering.</summary>
        private static bool IsConnectionLoss(NpgsqlException ex)
            => ex is not PostgresException pg || pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P0", StringComparison.Ordinal);

        /// <summary>The guard, not the caller, stopped the attempt (directly, or through a command it cancelled).</summary>
        private static bool GuardTripped(Exception ex, CancellationTokenSource guard, CancellationToken caller)
            => guard.IsCancellationRequested && !caller.IsCancellationRequested
               && (ex is OperationCanceledException || DsqlErrors.FindPostgresException(ex)?.SqlState == "57014" || ex.InnerException is OperationCanceledException);

        private static async Task RollBackQuietlyAsync(NpgsqlTransaction? transaction)
        {
            if (transaction?.Connection is not { State: ConnectionState.Open }) return;
            try
            {
                await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // The connection is broken or the transaction already ended; disposing the connection cleans up.
            }
        }
    }
}
