using System.Data.Common;
using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;
using Polly;
using Polly.Retry;

namespace Dsql.Connector;

/// <summary>
/// A <see cref="DbDataSource"/> for Aurora DSQL: one <see cref="Npgsql.NpgsqlDataSource"/> with DSQL's rules
/// applied (IAM tokens, verify-full TLS, a pool that never outlives DSQL's connection cut, a per-endpoint
/// connection-rate bucket, and retries of throttled or transient connects). Connections are plain
/// <see cref="NpgsqlConnection"/>s.
/// </summary>
public sealed partial class DsqlDataSource : DbDataSource
{
    private readonly DsqlConnectionStringBuilder _settings;
    private readonly ConnectPacer _pacer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _retry;
    private NpgsqlDataSource _inner = null!;
    private long _lastThrottledTicks; // UTC ticks; 0 = never

    /// <summary>How long after the last throttled connect <see cref="IsConnectThrottled"/> stays true.</summary>
    internal static readonly TimeSpan ThrottleMemory = TimeSpan.FromSeconds(30);

    internal DsqlDataSource(DsqlConnectionStringBuilder settings, string endpoint, string region, DsqlTokenProvider tokenProvider, ConnectPacer pacer, ILogger logger, TimeProvider time)
    {
        _settings = settings;
        Endpoint = endpoint;
        Region = region;
        TokenProvider = tokenProvider;
        _pacer = pacer;
        _logger = logger;
        _time = time;
        _retry = BuildRetryPipeline(settings.ConnectRetries);
    }

    /// <summary>Creates a data source from a connection string with the default credentials chain.</summary>
    /// <exception cref="DsqlConfigurationException">A setting is invalid; the message names it and its value.</exception>
    public static DsqlDataSource Create(string connectionString) => new DsqlDataSourceBuilder(connectionString).Build();

    /// <summary>The DSQL endpoint tokens are signed for.</summary>
    public string Endpoint { get; }

    /// <summary>The Region tokens are signed for.</summary>
    public string Region { get; }

    /// <summary>The token cache behind the password callback (internal: for tests).</summary>
    internal DsqlTokenProvider TokenProvider { get; }

    /// <summary>The inner Npgsql data source, for advanced use (its settings are the connector's; do not weaken them).</summary>
    public NpgsqlDataSource NpgsqlDataSource => _inner;

    /// <summary>The effective settings without secrets (there are none: DSQL authenticates with tokens).</summary>
    public override string ConnectionString => _settings.ToString() ?? "";

    internal void Initialize(NpgsqlDataSource inner) => _inner = inner;

    /// <summary>Creates a connection that is not open yet. Opening it directly skips the connector's connect retries; prefer <see cref="OpenConnectionAsync"/>.</summary>
    public new NpgsqlConnection CreateConnection() => _inner.CreateConnection();

    /// <inheritdoc />
    protected override DbConnection CreateDbConnection() => _inner.CreateConnection();

    /// <summary>
    /// Rents a pooled connection (or opens a physical one), retrying throttled (53400, 53300) and transient
    /// failures with exponential backoff and jitter within the <c>Timeout</c> setting and <paramref name="cancellationToken"/>.
    /// A refused token is retried once with a freshly signed one, then reported as <see cref="DsqlAuthenticationException"/>.
    /// </summary>
    public new async ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        // Every open of a single-connection data source is a physical connect: it reserves its connect permit
        // before the socket opens, so that a connect waiting for the rate bucket holds no connection on the server.
        var reservation = _settings.Pooling ? null : await ReserveBeforeOpenAsync(cancellationToken).ConfigureAwait(false);
        if (reservation is not null) HeldPermit.Value = reservation;
        // Fast path: a pooled rent that succeeds needs no retry machinery.
        var connection = _inner.CreateConnection();
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            ReleaseUnused(reservation);
            return connection;
        }
        catch (Exception ex) when (IsRetryable(ex) || IsAuthenticationFailure(ex))
        {
            ReleaseUnused(reservation);
            await connection.DisposeAsync().ConfigureAwait(false);
            return await OpenWithRetriesAsync(ex, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ReleaseUnused(reservation);
            RecordConnectFailure(ex, cancellationToken);
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    protected override async ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken = default)
        => await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The synchronous twin of <see cref="OpenConnectionAsync"/> (it blocks the calling thread while it waits).</summary>
    public new NpgsqlConnection OpenConnection() => TryOpen(out var failure) ?? OpenWithRetries(failure!);

    /// <summary>One synchronous open: the connection, or null with the failure when it is worth another attempt.</summary>
    private NpgsqlConnection? TryOpen(out Exception? failure)
    {
        var reservation = _settings.Pooling ? null : ReserveBeforeOpen();
        if (reservation is not null) HeldPermit.Value = reservation;
        var connection = _inner.CreateConnection();
        try
        {
            connection.Open();
            failure = null;
            return connection;
        }
        catch (Exception ex) when (IsRetryable(ex) || IsAuthenticationFailure(ex))
        {
            connection.Dispose();
            failure = ex;
            return null;
        }
        catch (Exception ex)
        {
            RecordConnectFailure(ex, CancellationToken.None);
            connection.Dispose();
            throw;
        }
        finally
        {
            // A synchronous method does not restore the execution context: clear what this open set.
            ReleaseUnused(reservation);
            if (reservation is not null) HeldPermit.Value = null;
        }
    }

    /// <inheritdoc />
    protected override DbConnection OpenDbConnection() => OpenConnection();

    private async ValueTask<NpgsqlConnection> OpenWithRetriesAsync(Exception first, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(_settings.Timeout));
        bool tokenRefreshed = false;
        RecordConnectFailure(first, cancellationToken);
        // The fast path's failure counts as the pipeline's first attempt, so that its retry is delayed and logged like the others.
        Exception? pending = first;
        if (IsAuthenticationFailure(first))
        {
            tokenRefreshed = RefreshTokenAfter((PostgresException)first);
            pending = null;
        }
        try
        {
            return await _retry.ExecuteAsync(async token =>
            {
                if (pending is { } failed)
                {
                    pending = null;
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
                }
                while (true)
                {
                    var reservation = _settings.Pooling ? null : await ReserveBeforeOpenAsync(token).ConfigureAwait(false);
                    if (reservation is not null) HeldPermit.Value = reservation;
                    var connection = _inner.CreateConnection();
                    try
                    {
                        await connection.OpenAsync(token).ConfigureAwait(false);
                        return connection;
                    }
                    catch (PostgresException ex) when (IsAuthenticationFailure(ex))
                    {
                        RecordConnectFailure(ex, cancellationToken);
                        await connection.DisposeAsync().ConfigureAwait(false);
                        if (tokenRefreshed) throw new DsqlAuthenticationException(Endpoint, _settings.Username, ex);
                        tokenRefreshed = RefreshTokenAfter(ex);
                    }
                    catch (Exception ex)
                    {
                        RecordConnectFailure(ex, cancellationToken);
                        await connection.DisposeAsync().ConfigureAwait(false);
                        throw;
                    }
                    finally
                    {
                        ReleaseUnused(reservation);
                    }
                }
            }, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            throw new NpgsqlException($"Could not open a connection to {Endpoint} within the Timeout of {_settings.Timeout} s (connect retries included).", new TimeoutException(ex.Message, ex));
        }
    }

    private NpgsqlConnection OpenWithRetries(Exception first)
    {
        var started = Stopwatch.StartNew();
        var budget = TimeSpan.FromSeconds(_settings.Timeout);
        bool tokenRefreshed = false;
        var last = first;
        RecordConnectFailure(first, CancellationToken.None);
        for (int attempt = 1; ; attempt++)
        {
            if (last is PostgresException auth && IsAuthenticationFailure(auth))
            {
                if (tokenRefreshed) throw new DsqlAuthenticationException(Endpoint, _settings.Username, auth);
                tokenRefreshed = RefreshTokenAfter(auth);
            }
            else
            {
                if (attempt > _settings.ConnectRetries) throw last is NpgsqlException ? last : new NpgsqlException(last.Message, last);
                var delay = BackoffDelay(attempt);
                if (started.Elapsed + delay > budget) throw last;
                Log.ConnectRetry(_logger, Endpoint, Describe(last), attempt, delay.TotalMilliseconds);
                Thread.Sleep(delay);
            }
            NpgsqlConnection? opened;
            try
            {
                opened = TryOpen(out var failure);
                last = failure ?? last;
            }
            catch (Exception ex)
            {
                RecordConnectFailure(ex, CancellationToken.None);
                throw;
            }
            if (opened is not null) return opened;
            RecordConnectFailure(last, CancellationToken.None);
        }
    }

    private bool RefreshTokenAfter(PostgresException ex)
    {
        Log.AuthenticationRetry(_logger, Endpoint, _settings.Username, ex.SqlState);
        TokenProvider.Invalidate(Endpoint, Region, _settings.Username);
        return true;
    }

    /// <summary>Backoff of the connect retries: 100 ms doubling to at most 5 s, with full jitter (the synchronous path).</summary>
    private static TimeSpan BackoffDelay(int attempt)
    {
        double ceiling = Math.Min(5_000, 100 * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
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
                    Log.ConnectRetry(_logger, Endpoint, args.Outcome.Exception is { } ex ? Describe(ex) : "unknown", args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Throttling (53400 rate, 53300 too many connections) and transient network failures are worth another attempt.</summary>
    internal static bool IsRetryable(Exception exception) => exception switch
    {
        DsqlAuthenticationException => false,
        PostgresException pg => pg.SqlState is "53400" or "53300" || (pg.IsTransient && !IsAuthenticationFailure(pg)),
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or IOException or TimeoutException,
        _ => false,
    };

    internal static bool IsAuthenticationFailure(Exception exception) => exception is PostgresException { SqlState: "28000" or "28P01" };

    private static string Describe(Exception exception) => exception is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : exception.GetType().Name + ": " + exception.Message;

    // ---------------------------------------------------------------- password callback

    internal string ProvidePassword(string user)
    {
        // The token first, the permit last: the token goes out right after the permit, so signing time never
        // bunches paced connects together. A synchronous open blocks its thread by nature; it waits the same way.
        RecordConnectAttempt(user);
        string token = TokenProvider.GetToken(Endpoint, Region, user);
        if (ClaimHeldReservation())
        {
            _pacer.UseReserved();
            return token;
        }
        if (_pacer.TryTake()) return token;
        var started = Stopwatch.GetTimestamp();
        if (!_pacer.Wait(reserve: false, TimeSpan.FromSeconds(_settings.Timeout))) throw PermitTimeout(null);
        LogWait(started);
        return token;
    }

    internal ValueTask<string> ProvidePasswordAsync(string user, CancellationToken cancellationToken)
    {
        RecordConnectAttempt(user);
        var pending = TokenProvider.GetTokenAsync(Endpoint, Region, user, cancellationToken);
        if (ClaimHeldReservation())
        {
            if (!pending.IsCompletedSuccessfully) return UseReservationAfterAsync(pending);
            _pacer.UseReserved();
            return pending;
        }
        if (pending.IsCompletedSuccessfully && _pacer.TryTake()) return pending;
        return WaitForPermitAsync(pending, cancellationToken);
    }

    /// <summary>
    /// Uses the open's reservation once its token is ready (the bucket is drawn on when the token goes out, not while
    /// it is signed), or gives the reservation back if no token comes.
    /// </summary>
    private async ValueTask<string> UseReservationAfterAsync(ValueTask<string> pendingToken)
    {
        string token;
        try
        {
            token = await pendingToken.ConfigureAwait(false);
        }
        catch
        {
            _pacer.Release();
            throw;
        }
        _pacer.UseReserved();
        return token;
    }

    private async ValueTask<string> WaitForPermitAsync(ValueTask<string> pendingToken, CancellationToken cancellationToken)
    {
        string token = await pendingToken.ConfigureAwait(false);
        if (_pacer.TryTake()) return token;
        var started = Stopwatch.GetTimestamp();
        await _pacer.TakeAsync(cancellationToken).ConfigureAwait(false);
        LogWait(started);
        return token;
    }

    // ---------------------------------------------------------------- permits reserved before the socket opens

    /// <summary>
    /// The connect permit a single-connection open reserved before its socket opened, for that open's password
    /// callback. It flows with the open's execution context; an open that fails before its callback gives it back.
    /// </summary>
    private static readonly AsyncLocal<Reservation?> HeldPermit = new();

    private sealed class Reservation(DsqlDataSource owner)
    {
        /// <summary>The data source whose pacer holds the reservation; null once used or released.</summary>
        public DsqlDataSource? Owner = owner;
    }

    /// <summary>
    /// Claims the permit reserved before this open, if there is one for this data source; the caller then uses it
    /// (or gives it back) on the pacer.
    /// </summary>
    private bool ClaimHeldReservation()
    {
        var held = HeldPermit.Value;
        return held is not null && ReferenceEquals(Interlocked.CompareExchange(ref held.Owner, null, this), this);
    }

    /// <summary>Gives back a reservation its open did not use (it failed before sending a token, or was never asked for one).</summary>
    private static void ReleaseUnused(Reservation? reservation)
    {
        if (reservation is null) return;
        var owner = Interlocked.Exchange(ref reservation.Owner, null);
        owner?._pacer.Release();
    }

    /// <summary>
    /// Reserves a connect permit before a physical open, waiting at most the <c>Timeout</c> setting. The caller puts
    /// it in <see cref="HeldPermit"/> itself: a value set inside an async method does not flow back to its caller.
    /// </summary>
    private async ValueTask<Reservation> ReserveBeforeOpenAsync(CancellationToken cancellationToken)
    {
        if (!_pacer.TryReserve())
        {
            var started = Stopwatch.GetTimestamp();
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(_settings.Timeout));
            try
            {
                await _pacer.ReserveAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                var timeout = PermitTimeout(ex);
                RecordConnectFailure(timeout, cancellationToken);
                throw timeout;
            }
            LogWait(started);
        }
        return new Reservation(this);
    }

    /// <summary>The synchronous twin of <see cref="ReserveBeforeOpenAsync"/> (it blocks the calling thread).</summary>
    private Reservation ReserveBeforeOpen()
    {
        if (!_pacer.TryReserve())
        {
            var started = Stopwatch.GetTimestamp();
            if (!_pacer.Wait(reserve: true, TimeSpan.FromSeconds(_settings.Timeout)))
            {
                var timeout = PermitTimeout(null);
                RecordConnectFailure(timeout, CancellationToken.None);
                throw timeout;
            }
            LogWait(started);
        }
        return new Reservation(this);
    }

    private NpgsqlException PermitTimeout(Exception? inner)
        => new($"No connect permit for {Endpoint} within the Timeout of {_settings.Timeout} s: more connects are queued for the " +
               $"connection-rate bucket ({_settings.ConnectionRatePerSecond}/s) than it releases in that time. Open fewer connections at once or raise Timeout.",
               new TimeoutException("Waiting for a connect permit timed out.", inner));

    private void LogWait(long started)
    {
        var waited = Stopwatch.GetElapsedTime(started);
        if (waited <= TimeSpan.FromMilliseconds(1)) return;
        MarkThrottled();
        Log.RateLimitWait(_logger, Endpoint, waited.TotalMilliseconds);
        RecordRateLimitWait(waited);
    }

    /// <summary>Whether connects were throttled (a rate-limit wait, or 53400 / 53300 from DSQL) within the last 30 s.</summary>
    internal bool IsConnectThrottled => _time.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastThrottledTicks) < ThrottleMemory.Ticks;

    private void MarkThrottled() => Interlocked.Exchange(ref _lastThrottledTicks, _time.GetUtcNow().UtcTicks);

    // ---------------------------------------------------------------- disposal

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner?.Dispose();
            TokenProvider.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        if (_inner is not null) await _inner.DisposeAsync().ConfigureAwait(false);
        TokenProvider.Dispose();
    }
}
