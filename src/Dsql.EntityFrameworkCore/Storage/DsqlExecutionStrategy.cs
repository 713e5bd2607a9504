using Dsql.Connector;
using Dsql.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Dsql.EntityFrameworkCore.Storage;

/// <summary>
/// The execution strategy <c>UseDsql()</c> installs: runs the whole unit of work again (a <c>SaveChanges</c>, or the
/// delegate given to <c>Database.CreateExecutionStrategy().ExecuteAsync</c>, its transactions included) when DSQL
/// reports an optimistic-concurrency conflict (SQLSTATE 40001: OC000, OC001) or the connection of a transaction is
/// lost before its COMMIT is sent, with the connector's retry policy (<see cref="DsqlTransactionOptions"/>: retries,
/// exponential backoff, jitter). A COMMIT whose connection fails in flight is reported as
/// <see cref="DsqlAmbiguousCommitException"/>, or decided by the caller's <c>verifySucceeded</c> when one is given.
/// On a data source over several regional endpoints, a unit whose connection was lost for a Region reason runs again
/// on another endpoint (see <see cref="DsqlRelationalConnection"/>).
/// </summary>
/// <remarks>
/// A strategy instance belongs to one context (as EF's strategies do); it is not shared between threads.
/// Metrics: the connector's <c>dsql.transaction.conflicts</c>, <c>dsql.transaction.connection_losses</c>,
/// <c>dsql.transaction.retries</c> and <c>dsql.transaction.retries.exhausted</c>, tagged with the endpoint; EF Core logs
/// each retry itself (<c>CoreEventId.ExecutionStrategyRetrying</c>).
/// </remarks>
internal sealed class DsqlExecutionStrategy : ExecutionStrategy
{
    private readonly DsqlEfOptions _options;
    private readonly DsqlDataSource? _dataSource;
    private DsqlRelationalConnection? _connection;
    private bool _verifiedAbsent;
    private string? _retryReason;
    private int _failovers;
    private bool _firstFailover;

    public DsqlExecutionStrategy(ExecutionStrategyDependencies dependencies, DsqlEfOptions options, DsqlDataSource? dataSource)
        : base(dependencies, options.MaxRetries, options.MaxDelay)
    {
        _options = options;
        _dataSource = dataSource;
    }

    /// <summary>Over several endpoints, the endpoint the last failure met (its connection's when it failed).</summary>
    private DsqlDataSource? _failedOn;

    /// <summary>Where the unit's metrics are recorded: over several endpoints, the endpoint the failure met.</summary>
    private DsqlDataSource? Recorder => _failedOn ?? _dataSource;

    private DsqlRelationalConnection? Connection
        => _connection ??= Dependencies.CurrentContext.Context.GetService<IRelationalConnection>() as DsqlRelationalConnection;

    public override TResult Execute<TState, TResult>(TState state, Func<DbContext, TState, TResult> operation, Func<DbContext, TState, ExecutionResult<TResult>>? verifySucceeded)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var context = Dependencies.CurrentContext.Context;
        if (Current is not null) return operation(context, state); // inside a unit already: the outer strategy retries
        OnFirstExecution();
        while (true)
        {
            try
            {
                Current = this;
                var result = operation(context, state);
                Current = null;
                return result;
            }
            catch (Exception ex)
            {
                Current = null;
                _failedOn = Connection?.Endpoint; // before a verification may move the connection
                if (verifySucceeded is not null && CallOnWrappedException(ex, ShouldVerifySuccessOn))
                {
                    var verified = Verify(() => verifySucceeded(context, state));
                    if (verified.IsSuccessful) return verified.Result;
                }
                var delay = NextDelayOrThrow(ex);
                Dependencies.Logger.ExecutionStrategyRetrying(ExceptionsEncountered, delay, async: false);
                OnRetry();
                Thread.Sleep(delay); // the synchronous API: its caller chose to block
            }
        }
    }

    public override async Task<TResult> ExecuteAsync<TState, TResult>(TState state, Func<DbContext, TState, CancellationToken, Task<TResult>> operation,
        Func<DbContext, TState, CancellationToken, Task<ExecutionResult<TResult>>>? verifySucceeded, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var context = Dependencies.CurrentContext.Context;
        if (Current is not null) return await operation(context, state, cancellationToken).ConfigureAwait(false);
        OnFirstExecution();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                // The first attempt runs the operation itself, with nothing around it: most units neither conflict
                // nor lose their connection, and those pay nothing for the retries.
                Current = this;
                var result = await operation(context, state, cancellationToken).ConfigureAwait(false);
                Current = null;
                return result;
            }
            catch (Exception ex)
            {
                Current = null;
                _failedOn = Connection?.Endpoint; // before a verification may move the connection
                if (verifySucceeded is not null && CallOnWrappedException(ex, ShouldVerifySuccessOn))
                {
                    Current = this;
                    ExecutionResult<TResult> verified;
                    try
                    {
                        verified = await verifySucceeded(context, state, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        Current = null;
                    }
                    if (verified.IsSuccessful) return verified.Result;
                    _verifiedAbsent = true;
                }
                var delay = NextDelayOrThrow(ex);
                Dependencies.Logger.ExecutionStrategyRetrying(ExceptionsEncountered, delay, async: true);
                OnRetry();
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs the caller's check of an interrupted COMMIT; when it finds the work absent, the unit may run again.</summary>
    private ExecutionResult<TResult> Verify<TResult>(Func<ExecutionResult<TResult>> check)
    {
        Current = this;
        try
        {
            var verified = check();
            if (!verified.IsSuccessful) _verifiedAbsent = true;
            return verified;
        }
        finally
        {
            Current = null;
        }
    }

    /// <summary>Rethrows <paramref name="failure"/> when it is not retried; throws when the retries ran out; otherwise the delay before the next attempt.</summary>
    private TimeSpan NextDelayOrThrow(Exception failure)
    {
        bool retry = CallOnWrappedException(failure, ShouldRetryOn);
        _verifiedAbsent = false;
        if (!retry) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        ExceptionsEncountered.Add(failure);
        return GetNextDelay(failure) ?? throw new RetryLimitExceededException(
            $"The unit of work failed on all {MaxRetryCount + 1} attempts (retried on optimistic-concurrency conflicts and on connections lost " +
            "before COMMIT); the last failure is the inner exception. Raise MaxRetries with UseDsql(..., o => o.Retries(r => ...)), or reduce " +
            "contention on the rows the unit writes.", failure);
    }

    protected override void OnFirstExecution()
    {
        base.OnFirstExecution();
        Connection?.TakeLostBeforeCommit(); // a loss left over from earlier work is not this unit's
        _retryReason = null;
        _failovers = 0;
        _firstFailover = false;
        _failedOn = null;
    }

    /// <summary>Only an interrupted COMMIT is checked with <c>verifySucceeded</c>: a conflict or a loss before COMMIT committed nothing.</summary>
    protected override bool ShouldVerifySuccessOn(Exception exception) => Find<DsqlAmbiguousCommitException>(exception) is not null;

    protected override bool ShouldRetryOn(Exception exception)
    {
        _retryReason = null;
        _firstFailover = false;
        if (Find<DsqlAmbiguousCommitException>(exception) is not null)
        {
            // Run again only when the caller's verifySucceeded ran and found the work absent.
            Connection?.TakeLostBeforeCommit();
            if (!_verifiedAbsent) return false;
            _retryReason = "connection_lost";
            return true;
        }
        if (DsqlErrors.IsConflict(exception))
        {
            Connection?.TakeLostBeforeCommit();
            Recorder?.RecordConflict();
            _retryReason = "conflict";
            return true;
        }
        if (Connection?.TakeLostBeforeCommit() == true)
        {
            Recorder?.RecordConnectionLoss();
            // Over several endpoints, a Region failure sends the next attempt elsewhere; the first such move goes at
            // once (the backoff is for contention, which the peer does not have).
            if (Connection.NoteAttemptFailure(exception)) _firstFailover = ++_failovers == 1;
            _retryReason = "connection_lost";
            return true;
        }
        return false;
    }

    /// <summary>The connector's backoff: <c>BaseDelay</c> doubled per retry, up to <c>MaxDelay</c>, with jitter of +-50 % when enabled.</summary>
    protected override TimeSpan? GetNextDelay(Exception lastException)
    {
        int retry = ExceptionsEncountered.Count; // 1 before the first retry
        string reason = _retryReason ?? "conflict";
        if (retry > MaxRetryCount)
        {
            Recorder?.RecordRetriesExhausted(reason);
            return null;
        }
        double milliseconds = _options.BaseDelay.TotalMilliseconds * Math.Pow(2, retry - 1);
        if (_options.UseJitter) milliseconds *= 0.5 + Random.NextDouble();
        var delay = _firstFailover ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Min(milliseconds, _options.MaxDelay.TotalMilliseconds));
        Recorder?.RecordTransactionRetry(retry + 1, delay, reason);
        return delay;
    }

    private static T? Find<T>(Exception exception) where T : Exception
    {
        for (var current = exception; current is not null; current = current.InnerException)
            if (current is T found) return found;
        return null;
    }
}

/// <summary>Makes <see cref="DsqlExecutionStrategy"/> the default strategy; one set with Npgsql's <c>ExecutionStrategy(...)</c> option still wins.</summary>
internal sealed class DsqlExecutionStrategyFactory(ExecutionStrategyDependencies dependencies)
    : Npgsql.EntityFrameworkCore.PostgreSQL.Storage.Internal.NpgsqlExecutionStrategyFactory(dependencies)
{
    protected override IExecutionStrategy CreateDefaultStrategy(ExecutionStrategyDependencies dependencies)
    {
        var extension = dependencies.Options.FindExtension<DsqlOptionsExtension>();
        return new DsqlExecutionStrategy(dependencies, extension?.Options ?? new DsqlEfOptions(), extension?.DataSource);
    }
}
