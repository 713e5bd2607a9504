using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Npgsql;
using Polly;
using Polly.Retry;

namespace Dsql.Connector;

public sealed partial class DsqlDataSource
{
    // One open path for OpenConnection and OpenConnectionAsync (Npgsql's `bool async` style): with async false every
    // await below completes synchronously. One retry policy: the Polly pipeline, run with Execute or ExecuteAsync.

    /// <summary>The open under way in this flow: its budget, phase and reserved permit, seen by the TLS and password callbacks.</summary>
    private static readonly AsyncLocal<OpenState?> CurrentOpen = new();

    private static readonly ResiliencePropertyKey<OpenState> OpenKey = new("Dsql.Connector.Open");

    /// <summary>A retry is not started with less than this left of the budget: it could not finish anyway.</summary>
    private static readonly TimeSpan RetryFloor = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Opens <paramref name="connection"/> (created by this data source and closed) with the open policy of
    /// <see cref="OpenConnectionAsync"/>: connect retries, the bound on the whole open, a fresh token after a refused
    /// one. For callers that own the connection object, such as EF Core's relational connection. A failed attempt leaves
    /// it closed, not disposed.
    /// </summary>
    internal ValueTask<NpgsqlConnection> OpenExisting(NpgsqlConnection connection, bool async, CancellationToken cancellationToken)
        => _router is null ? Open(async, cancellationToken, connection) : OpenExistingRouted(connection, async, cancellationToken);

    /// <summary>An open on this endpoint alone (for the router of a data source over several endpoints).</summary>
    internal ValueTask<NpgsqlConnection> OpenSingle(bool async, CancellationToken cancellationToken) => Open(async, cancellationToken);

    private ValueTask<NpgsqlConnection> Open(bool async, CancellationToken cancellationToken, NpgsqlConnection? existing = null)
        => _router is null ? OpenOnEndpoint(async, cancellationToken, existing) : OpenRouted(async, cancellationToken);

    private async ValueTask<NpgsqlConnection> OpenOnEndpoint(bool async, CancellationToken cancellationToken, NpgsqlConnection? existing)
    {
        var open = OpenState.Take(this, async, cancellationToken);
        open.Existing = existing;
        // Set inside this async method: the callbacks of this open see it; the caller's flow does not (the method's
        // start restores the caller's context, synchronous completion included).
        CurrentOpen.Value = open;
        try
        {
            try
            {
                // Fast path: a pooled rent that succeeds needs no retry machinery.
                return await Attempt(open).ConfigureAwait(false);
            }
            catch (Exception ex) when (_settings.ConnectRetries > 0 && IsRetryable(ex) && !cancellationToken.IsCancellationRequested)
            {
                // The fast path's failure counts as the pipeline's first attempt, so that its retry is delayed and logged like the others.
                open.Pending = ex;
                var context = ResilienceContextPool.Shared.Get(open.DeadlineToken());
                context.Properties.Set(OpenKey, open);
                try
                {
                    return async
                        ? await _retry.ExecuteAsync(static (_, state) => state.Owner.RetryAttempt(state), context, open).ConfigureAwait(false)
                        : _retry.Execute(static (_, state) => state.Owner.RetryAttempt(state).GetAwaiter().GetResult(), context, open);
                }
                finally
                {
                    ResilienceContextPool.Shared.Return(context);
                }
            }
        }
        catch (Exception ex) when (TranslateFailure(ex, open) is { } translated)
        {
            // Keeps the stack trace of an exception thrown earlier (the credentials failure Npgsql wrapped).
            ExceptionDispatchInfo.Throw(translated);
            throw;
        }
        finally
        {
            open.Recycle();
        }
    }

    private ValueTask<NpgsqlConnection> RetryAttempt(OpenState open)
    {
        if (open.Pending is { } failed)
        {
            open.Pending = null;
            return ValueTask.FromException<NpgsqlConnection>(failed);
        }
        return Attempt(open);
    }

    /// <summary>One attempt (two when DSQL refuses the token: the second with a freshly signed one).</summary>
    private async ValueTask<NpgsqlConnection> Attempt(OpenState open)
    {
        while (true)
        {
            open.Attempts++;
            NpgsqlConnection? connection = null;
            try
            {
                // Every open of a single-connection data source is a physical connect: it reserves its connect permit
                // before the socket opens, so that a connect waiting for the rate bucket holds no connection on the server.
                if (!_settings.Pooling) await ReserveBeforeOpen(open).ConfigureAwait(false);
                open.Phase = DsqlConnectPhase.Connecting;
                connection = open.Existing ?? _inner.CreateConnection();
                if (open.Async) await connection.OpenAsync(open.NpgsqlToken).ConfigureAwait(false);
                else connection.Open();
                return connection;
            }
            catch (Exception ex)
            {
                if (FindInChain<DsqlConnectTimeoutException>(ex) is { } timedOut) ex = timedOut; // the permit wait ran out in the password callback
                RecordConnectFailure(ex, open.Caller);
                if (connection is not null && !ReferenceEquals(connection, open.Existing))
                {
                    if (open.Async) await connection.DisposeAsync().ConfigureAwait(false);
                    else connection.Dispose();
                }
                if (ex is PostgresException refused && IsAuthenticationFailure(refused))
                {
                    if (open.TokenRefreshed) throw new DsqlAuthenticationException(Endpoint, _settings.Username, refused);
                    open.TokenRefreshed = RefreshTokenAfter(refused);
                    continue;
                }
                // Out of budget: no retry could finish, so the failure is the open's timeout.
                if (ex is DsqlConnectTimeoutException) throw ex;
                if (!open.Caller.IsCancellationRequested && open.Remaining < RetryFloor && (IsRetryable(ex) || IsCancellation(ex)))
                {
                    // A stall names the phase it stalled in; an answer (53400, a reset) leaves no time for another attempt.
                    if (!IsStall(ex))
                    {
                        open.Phase = DsqlConnectPhase.RetryDelay;
                        open.LastFailure = ex;
                    }
                    throw open.TimedOut(DsqlErrors.UnwrapOpenFailure(ex));
                }
                throw;
            }
            finally
            {
                open.ReleaseUnusedReservation();
            }
        }
    }

    /// <summary>
    /// What a failed open throws instead of <paramref name="exception"/>: the open's timeout when its budget ran out, a
    /// <see cref="DsqlTlsException"/> for a TLS failure; null to let the exception through.
    /// </summary>
    private Exception? TranslateFailure(Exception exception, OpenState open)
    {
        if (open.Caller.IsCancellationRequested) return null;
        // No token could be signed: the explanation, not Npgsql's "exception thrown from the password provider".
        if (DsqlErrors.FindPasswordProviderFailure(exception) is { } credentials) return ReferenceEquals(credentials, exception) ? null : credentials;
        if (FindInChain<DsqlConnectTimeoutException>(exception) is { } timeout) return ReferenceEquals(timeout, exception) ? null : timeout;
        if (exception is DsqlAuthenticationException or DsqlTlsException) return null;
        if (open.Expired && (IsCancellation(exception) || IsRetryable(exception))) return open.TimedOut(exception);
        if (exception is NpgsqlException npgsql and not PostgresException && DsqlTlsException.IsTlsFailure(exception))
            return new DsqlTlsException(Endpoint, _settings.HostAddress, _settings.Port, Region, _settings.RootCertificate, npgsql);
        return null;
    }

    private static bool IsCancellation(Exception exception) => FindInChain<OperationCanceledException>(exception) is not null;

    /// <summary>The attempt waited for an answer until it was stopped (a cancellation, or Npgsql's own timeout of a read or the TCP connect).</summary>
    private static bool IsStall(Exception exception)
        => IsCancellation(exception) || FindInChain<TimeoutException>(exception) is not null
           || FindInChain<SocketException>(exception) is { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock };

    /// <summary>Called by the TLS options callback: the open in this flow has its TCP connection and starts TLS.</summary>
    private void EnteringTlsHandshake()
    {
        if (CurrentOpen.Value is { } open && ReferenceEquals(open.Owner, this))
        {
            open.Seen = true;
            open.Phase = DsqlConnectPhase.TlsHandshake;
        }
    }

    private bool RefreshTokenAfter(PostgresException ex)
    {
        Log.AuthenticationRetry(_logger, Endpoint, _settings.Username, ex.SqlState);
        TokenProvider.Invalidate(Endpoint, Region, _settings.Username);
        return true;
    }

    private ResiliencePipeline BuildRetryPipeline(int retries)
    {
        if (retries == 0) return ResiliencePipeline.Empty;
        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = retries,
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(5),
                UseJitter = true,
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsRetryable),
                OnRetry = args =>
                {
                    if (args.Context.Properties.TryGetValue(OpenKey, out var open))
                    {
                        open.Phase = DsqlConnectPhase.RetryDelay;
                        open.LastFailure = args.Outcome.Exception;
                    }
                    Log.ConnectRetry(_logger, Endpoint, args.Outcome.Exception is { } ex ? Describe(ex) : "unknown", args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Throttling (53400 rate, 53300 too many connections) and transient network failures are worth another attempt.</summary>
    internal static bool IsRetryable(Exception exception) => exception switch
    {
        DsqlAuthenticationException or DsqlConnectTimeoutException or DsqlTlsException => false,
        PostgresException pg => pg.SqlState is "53400" or "53300" || (pg.IsTransient && !IsAuthenticationFailure(pg)),
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or IOException or TimeoutException,
        _ => false,
    };

    internal static bool IsAuthenticationFailure(Exception exception) => exception is PostgresException { SqlState: "28000" or "28P01" };

    private static string Describe(Exception exception) => exception is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : exception.GetType().Name + ": " + exception.Message;

    /// <summary>
    /// One call of <see cref="Open"/>: its budget (the <c>Timeout</c> setting, from the start of the call), the phase it is
    /// in, and the connect permit its attempt reserved. A pooled rent is the path every request takes: the state of a
    /// rent that found an idle connection is kept for the thread's next open instead of being allocated again.
    /// </summary>
    private sealed class OpenState
    {
        // One spare per thread. An open hands its state back only when no callback saw it (no physical connect ran,
        // nothing was retried), so no flow started inside it can hold it for a later connect of its own.
        [ThreadStatic]
        private static OpenState? t_spare;

        private long _started;
        private CancellationTokenSource? _linked;

        private OpenState()
        {
        }

        public DsqlDataSource Owner { get; private set; } = null!;

        /// <summary>The caller's connection to open (<see cref="OpenExisting"/>); null: each attempt creates one.</summary>
        public NpgsqlConnection? Existing;

        public bool Async { get; private set; }
        public CancellationToken Caller { get; private set; }
        public TimeSpan Budget { get; private set; }

        /// <summary>The token an asynchronous attempt gives Npgsql: cancelled by the caller or at the deadline.</summary>
        public CancellationToken NpgsqlToken { get; private set; }

        public DsqlConnectPhase Phase;
        public int Attempts;
        public bool TokenRefreshed;
        public Exception? Pending;
        public Exception? LastFailure;

        /// <summary>The data source whose pacer holds this attempt's reserved permit; null when none is held.</summary>
        public DsqlDataSource? ReservedOn;

        /// <summary>A callback (TLS, password) saw this state: a physical connect ran under it.</summary>
        public bool Seen;

        public static OpenState Take(DsqlDataSource owner, bool async, CancellationToken caller)
        {
            var open = t_spare ?? new OpenState();
            t_spare = null;
            open._started = Stopwatch.GetTimestamp();
            open.Owner = owner;
            open.Async = async;
            open.Caller = caller;
            open.Budget = owner._settings.OpenBudget;
            // Npgsql's asynchronous open honours its token everywhere (a direct-TLS handshake included), its Timeout not:
            // the token carries the budget. The synchronous open is bounded by Npgsql's Timeout and by Remaining.
            open.NpgsqlToken = async ? open.DeadlineToken() : default;
            return open;
        }

        /// <summary>Ends the open: disposes what it created, and keeps the state for the thread's next open when nothing can still refer to it.</summary>
        public void Recycle()
        {
            bool reusable = !Seen && Attempts <= 1 && Pending is null && LastFailure is null && ReservedOn is null;
            _linked?.Dispose();
            _linked = null;
            Owner = null!;
            Existing = null;
            Caller = default;
            NpgsqlToken = default;
            Phase = default;
            Attempts = 0;
            TokenRefreshed = false;
            Pending = null;
            LastFailure = null;
            ReservedOn = null;
            Seen = false;
            if (reusable) t_spare = this;
        }

        public TimeSpan Remaining => Budget - Stopwatch.GetElapsedTime(_started);

        /// <summary>The budget ran out (and the caller did not cancel).</summary>
        public bool Expired => !Caller.IsCancellationRequested && (NpgsqlToken.IsCancellationRequested || _linked?.IsCancellationRequested == true || Remaining <= TimeSpan.Zero);

        /// <summary>
        /// A token cancelled by the caller's and at the deadline: the deadline is a token shared by the opens that start
        /// within the same slot (<see cref="DeadlineSlots"/>, no timer per open), linked with the caller's only when the
        /// caller's can be cancelled (created once, on first use).
        /// </summary>
        public CancellationToken DeadlineToken()
        {
            var deadline = Owner._deadlines.For(_started);
            if (!Caller.CanBeCanceled) return deadline;
            _linked ??= CancellationTokenSource.CreateLinkedTokenSource(Caller, deadline);
            return _linked.Token;
        }

        /// <summary>Claims this attempt's reservation for the password callback of <paramref name="dataSource"/>, if it holds one.</summary>
        public bool ClaimReservation(DsqlDataSource dataSource) => ReferenceEquals(Interlocked.CompareExchange(ref ReservedOn, null, dataSource), dataSource);

        /// <summary>Gives back a reservation the attempt did not use (it failed before sending a token).</summary>
        public void ReleaseUnusedReservation() => Interlocked.Exchange(ref ReservedOn, null)?._pacer.Release();

        public DsqlConnectTimeoutException TimedOut(Exception? failure)
        {
            var phase = Phase;
            // A cancellation says nothing: the failure of the attempt before it says more.
            var last = phase == DsqlConnectPhase.RetryDelay || failure is null || IsCancellation(failure) ? LastFailure ?? failure : failure;
            string address = $"{Owner._settings.HostAddress ?? Owner.Endpoint}:{Owner._settings.Port}";
            return new DsqlConnectTimeoutException(Owner.Endpoint, address, phase, Budget, Math.Max(1, Attempts), last);
        }
    }
}
