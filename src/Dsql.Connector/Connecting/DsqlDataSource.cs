using System.Data.Common;
using Microsoft.Extensions.Logging;
using Npgsql;
using Polly;

namespace Dsql.Connector;

/// <summary>
/// A <see cref="DbDataSource"/> for Aurora DSQL: one <see cref="Npgsql.NpgsqlDataSource"/> with DSQL's rules
/// applied (IAM tokens, verify-full TLS, a pool that never outlives DSQL's connection cut, a per-endpoint
/// connection-rate bucket, and retries of throttled or transient connects). Connections are plain
/// <see cref="NpgsqlConnection"/>s. Built by <see cref="DsqlDataSourceBuilder.Build"/>, it is immutable and thread-safe:
/// its settings were copied at Build.
/// </summary>
public sealed partial class DsqlDataSource : DbDataSource
{
    private readonly DsqlSettings _settings;
    private readonly ConnectPacer _pacer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _retry;
    private readonly NpgsqlDataSource _inner;
    private readonly DeadlineSlots _deadlines;
    private readonly EndpointRouter? _router; // several regional endpoints: each a data source of its own
    private long _lastThrottledTicks; // UTC ticks; 0 = never

    /// <summary>How long after the last throttled connect <see cref="IsConnectThrottled"/> stays true.</summary>
    internal static readonly TimeSpan ThrottleMemory = TimeSpan.FromSeconds(30);

    /// <summary>Builds the data source and its inner Npgsql data source in one step (called by <see cref="DsqlDataSourceBuilder.Build"/>).</summary>
    internal DsqlDataSource(DsqlSettings settings, DsqlTokenProvider tokenProvider, ConnectPacer pacer, ILoggerFactory loggerFactory,
        IReadOnlyList<Action<NpgsqlDataSourceBuilder>> npgsqlConfigurations, TimeProvider time)
    {
        _settings = settings;
        TokenProvider = tokenProvider;
        _pacer = pacer;
        _logger = loggerFactory.CreateLogger("Dsql.Connector");
        _time = time;
        _retry = BuildRetryPipeline(settings.ConnectRetries);
        _deadlines = new DeadlineSlots(settings.OpenBudget);

        var npgsql = new NpgsqlDataSourceBuilder(NpgsqlPolicy.ConnectionString(settings));
        npgsql.UseLoggerFactory(loggerFactory);
        foreach (var configure in npgsqlConfigurations) configure(npgsql);
        // Re-applied after the user's callbacks: these are the connector's invariants.
        NpgsqlPolicy.ApplyInvariants(npgsql, settings, EnteringTlsHandshake);
        var sslMode = npgsql.ConnectionStringBuilder.SslMode;
        if (settings.AllowInsecureTls && sslMode != SslMode.VerifyFull) Log.InsecureTls(_logger, Endpoint, sslMode.ToString());
        string user = settings.Username;
        npgsql.UsePasswordProvider(
            passwordProvider: builder => ProvidePassword(builder.Username ?? user),
            passwordProviderAsync: (builder, cancellationToken) => ProvidePasswordAsync(builder.Username ?? user, cancellationToken));
        _inner = npgsql.Build();
        Log.DataSourceBuilt(_logger, Endpoint, Region, user, settings.MinPoolSize, settings.MaxPoolSize, (int)settings.ConnectionLifetime.TotalSeconds,
            settings.ConnectionRatePerSecond, settings.ConnectionBurst);
    }

    /// <summary>Creates a data source from a connection string with the default credentials chain.</summary>
    /// <exception cref="DsqlConfigurationException">A setting is invalid; the message names it and its value.</exception>
    public static DsqlDataSource Create(string connectionString) => new DsqlDataSourceBuilder(connectionString).Build();

    /// <summary>The DSQL endpoint tokens are signed for (over several endpoints: the one opens go to now).</summary>
    public string Endpoint => _router is null ? _settings.Endpoint : _router.Active.Endpoint;

    /// <summary>The Region tokens are signed for (over several endpoints: that of the endpoint opens go to now).</summary>
    public string Region => _router is null ? _settings.Region : _router.Active.Region;

    /// <summary>The token cache behind the password callback (internal: for tests).</summary>
    internal DsqlTokenProvider TokenProvider { get; }

    /// <summary>
    /// The inner Npgsql data source, for advanced use (its settings are the connector's; do not weaken them). Over
    /// several endpoints: that of the endpoint opens go to now (connections opened on it directly do not fail over).
    /// </summary>
    public NpgsqlDataSource NpgsqlDataSource => _router is null ? _inner : _router.Active._inner;

    /// <summary>The settings as they were at Build, without secrets (there are none: DSQL authenticates with tokens).</summary>
    public override string ConnectionString => _settings.ConnectionString;

    /// <summary>
    /// Creates a connection that is not open yet. Opening it directly skips the connector's connect retries and its
    /// bound on the whole open; prefer <see cref="OpenConnectionAsync"/>.
    /// </summary>
    public new NpgsqlConnection CreateConnection() => _router is null ? _inner.CreateConnection() : CreateRoutedConnection();

    /// <inheritdoc />
    protected override DbConnection CreateDbConnection() => CreateConnection();

    /// <summary>
    /// Rents a pooled connection (or opens a physical one), retrying throttled (53400, 53300) and transient
    /// failures with exponential backoff and jitter. The whole open, waits for the pool and the connection-rate
    /// bucket and retries included, ends within the <c>Timeout</c> setting or when <paramref name="cancellationToken"/>
    /// is cancelled. A refused token is retried once with a freshly signed one.
    /// </summary>
    /// <exception cref="DsqlConnectTimeoutException">The open did not finish within <c>Timeout</c>; the message names the phase that ran out of time.</exception>
    /// <exception cref="DsqlAuthenticationException">DSQL refused the token twice.</exception>
    /// <exception cref="DsqlTlsException">The TLS handshake failed (most often: the server's certificate was not accepted).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public new ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken = default) => Open(async: true, cancellationToken);

    /// <inheritdoc />
    protected override async ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken = default)
        => await Open(async: true, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The synchronous form of <see cref="OpenConnectionAsync"/>, the same implementation (it blocks the calling thread
    /// while it waits). Each attempt is also bounded by Npgsql itself, from the attempt's start.
    /// </summary>
    /// <exception cref="DsqlConnectTimeoutException">The open did not finish within <c>Timeout</c>.</exception>
    /// <exception cref="DsqlAuthenticationException">DSQL refused the token twice.</exception>
    /// <exception cref="DsqlTlsException">The TLS handshake failed.</exception>
    public new NpgsqlConnection OpenConnection()
    {
        var open = Open(async: false, CancellationToken.None);
        System.Diagnostics.Debug.Assert(open.IsCompleted, "a synchronous open completed synchronously");
        return open.IsCompleted ? open.GetAwaiter().GetResult() : open.AsTask().GetAwaiter().GetResult();
    }

    /// <inheritdoc />
    protected override DbConnection OpenDbConnection() => OpenConnection();

    /// <summary>Whether connects were throttled (a rate-limit wait, or 53400 / 53300 from DSQL) within the last 30 s.</summary>
    internal bool IsConnectThrottled => _time.GetUtcNow().UtcTicks - Interlocked.Read(ref _lastThrottledTicks) < ThrottleMemory.Ticks;

    private void MarkThrottled() => Interlocked.Exchange(ref _lastThrottledTicks, _time.GetUtcNow().UtcTicks);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_router is not null)
            {
                _router.Dispose();
                foreach (var member in _router.Members) member.Source.Dispose();
            }
            else
            {
                _inner.Dispose();
                TokenProvider.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        if (_router is not null)
        {
            await _router.DisposeAsync().ConfigureAwait(false);
            foreach (var member in _router.Members) await member.Source.DisposeAsync().ConfigureAwait(false);
            return;
        }
        await _inner.DisposeAsync().ConfigureAwait(false);
        TokenProvider.Dispose();
    }
}
