using System.Reflection;
using System.Security.Authentication;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Collects settings and callbacks for a <see cref="DsqlDataSource"/>; <see cref="Build"/> validates once and
/// produces an immutable, thread-safe data source.
/// </summary>
/// <example>
/// <code>
/// await using var dataSource = new DsqlDataSourceBuilder("Host=abc...xyz.dsql.us-east-1.on.aws").Build();
/// await using var connection = await dataSource.OpenConnectionAsync();
/// </code>
/// </example>
public sealed class DsqlDataSourceBuilder
{
    /// <summary>
    /// Largest pool lifetime (54 min): DSQL cuts connections at 60 minutes, and a connection rented just before its
    /// lifetime ends may still run the longest transaction DSQL allows (5 min), which must finish by minute 59.
    /// </summary>
    internal static TimeSpan MaxConnectionLifetime => DsqlConnectionStringBuilder.MaximumConnectionLifetime;

    /// <summary>Width of the random window below <see cref="MaxConnectionLifetime"/> each data source picks its lifetime from.</summary>
    internal static readonly TimeSpan LifetimeSpread = TimeSpan.FromMinutes(4);

    private readonly List<Action<NpgsqlDataSourceBuilder>> _npgsqlConfigurations = new();
    private AWSCredentials? _credentials;
    private TimeProvider _timeProvider = TimeProvider.System;
    private ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;

    /// <summary>Starts from a connection string (Npgsql-style <c>Key=Value</c> pairs or a <c>postgres://</c> URI).</summary>
    /// <exception cref="DsqlConfigurationException">A setting is invalid; the message names it and its value.</exception>
    public DsqlDataSourceBuilder(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        Settings = new DsqlConnectionStringBuilder(connectionString);
    }

    /// <summary>Starts from settings already parsed (they are used as they are, not copied).</summary>
    public DsqlDataSourceBuilder(DsqlConnectionStringBuilder settings)
    {
        Settings = settings ?? throw new ArgumentNullException(nameof(settings));
    }

    /// <summary>The parsed settings; adjust them before <see cref="Build"/>.</summary>
    public DsqlConnectionStringBuilder Settings { get; }

    /// <summary>Signs tokens with these credentials instead of the AWS default chain (or the <c>Profile</c> setting).</summary>
    public DsqlDataSourceBuilder UseCredentials(AWSCredentials credentials)
    {
        _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
        return this;
    }

    /// <summary>The clock for token signing and expiry (tests use the emulator's clock or a fake one).</summary>
    public DsqlDataSourceBuilder UseTimeProvider(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        return this;
    }

    /// <summary>Logs the connector's events, and Npgsql's, to this factory.</summary>
    public DsqlDataSourceBuilder UseLoggerFactory(ILoggerFactory? loggerFactory)
    {
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        return this;
    }

    /// <summary>
    /// Configures the inner <see cref="NpgsqlDataSourceBuilder"/> (type mappings, plugins, ...). The connector's
    /// security settings (TLS, authentication, pool reset) are applied again afterwards and cannot be undone here.
    /// </summary>
    public DsqlDataSourceBuilder ConfigureNpgsql(Action<NpgsqlDataSourceBuilder> configure)
    {
        _npgsqlConfigurations.Add(configure ?? throw new ArgumentNullException(nameof(configure)));
        return this;
    }

    /// <summary>Validates the settings and builds the data source. Nothing connects until the first open.</summary>
    /// <exception cref="DsqlConfigurationException">A setting is invalid; the message names it and its value.</exception>
    public DsqlDataSource Build()
    {
        var settings = Settings;
        settings.Validate();
        // The one place the Region is resolved (environment, AWS profile): the settings' getters read neither.
        var (endpoint, region) = DsqlRegionResolver.ResolveEndpoint(settings);
        var logger = _loggerFactory.CreateLogger("Dsql.Connector");

        var credentials = _credentials ?? DsqlCredentials.Resolve(settings.Profile);
        var tokenProvider = new DsqlTokenProvider(new DsqlTokenGenerator(credentials, _timeProvider), settings.TokenLifetime, _timeProvider, logger);
        var pacer = ConnectRateLimiters.For(endpoint, settings.ConnectionRatePerSecond, settings.ConnectionBurst);
        var lifetime = settings.ConnectionLifetime ?? MaxConnectionLifetime - TimeSpan.FromSeconds(Random.Shared.Next(0, (int)LifetimeSpread.TotalSeconds + 1));

        var npgsql = new NpgsqlDataSourceBuilder(NpgsqlConnectionString(settings, endpoint, lifetime));
        npgsql.UseLoggerFactory(_loggerFactory);
        foreach (var configure in _npgsqlConfigurations) configure(npgsql);
        // Re-applied after the user's callbacks: these are the connector's invariants.
        ApplyInvariants(npgsql, settings, endpoint, lifetime);
        bool insecure = settings.AllowInsecureTls && npgsql.ConnectionStringBuilder.SslMode != SslMode.VerifyFull;
        if (insecure) Log.InsecureTls(logger, endpoint, npgsql.ConnectionStringBuilder.SslMode.ToString());

        var user = settings.Username;
        var dataSource = new DsqlDataSource(settings, endpoint, region, tokenProvider, pacer, logger, _timeProvider);
        npgsql.UsePasswordProvider(
            passwordProvider: builder => dataSource.ProvidePassword(builder.Username ?? user),
            passwordProviderAsync: (builder, cancellationToken) => dataSource.ProvidePasswordAsync(builder.Username ?? user, cancellationToken));
        dataSource.Initialize(npgsql.Build());
        Log.DataSourceBuilt(logger, endpoint, region, user, settings.MinPoolSize, settings.MaxPoolSize, (int)lifetime.TotalSeconds, settings.ConnectionRatePerSecond, settings.ConnectionBurst);
        return dataSource;
    }

    internal static string DefaultApplicationName { get; } =
        "Dsql.Connector/" + (typeof(DsqlDataSourceBuilder).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0");

    private static string NpgsqlConnectionString(DsqlConnectionStringBuilder settings, string endpoint, TimeSpan lifetime)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        foreach (var (key, value) in settings.NpgsqlOptions) builder[key] = value;
        builder.Host = settings.HostAddress ?? endpoint;
        builder.Port = settings.Port;
        builder.Database = settings.Database;
        builder.Username = settings.Username;
        builder.Pooling = settings.Pooling;
        builder.MaxPoolSize = settings.MaxPoolSize;
        builder.MinPoolSize = settings.MinPoolSize;
        builder.ConnectionIdleLifetime = (int)Math.Ceiling(settings.ConnectionIdleLifetime.TotalSeconds);
        builder.ConnectionLifetime = (int)lifetime.TotalSeconds;
        builder.Timeout = settings.Timeout;
        builder.CommandTimeout = settings.CommandTimeout;
        builder.ApplicationName = settings.ApplicationName ?? DefaultApplicationName;
        if (settings.RootCertificate is { } root) builder.RootCertificate = root;
        return builder.ConnectionString;
    }

    private static void ApplyInvariants(NpgsqlDataSourceBuilder npgsql, DsqlConnectionStringBuilder settings, string endpoint, TimeSpan lifetime)
    {
        var builder = npgsql.ConnectionStringBuilder;
        builder.Host = settings.HostAddress ?? endpoint;
        builder.Port = settings.Port;
        builder.Database = settings.Database;
        builder.Password = null;
        builder.Passfile = null;
        builder.SslMode = settings.AllowInsecureTls && settings.SslMode is { } weaker ? weaker : SslMode.VerifyFull;
        // Direct TLS saves a round trip; Npgsql allows it only when TLS is required.
        builder.SslNegotiation = builder.SslMode >= SslMode.Require ? SslNegotiation.Direct : SslNegotiation.Postgres;
        // DSQL has no DISCARD, and its transactions cannot take part in distributed (two-phase) transactions.
        builder.NoResetOnClose = true;
        builder.Enlist = false;
        // A refused startup must not be tried a second time behind the caller's back (it costs a connect).
        builder.GssEncryptionMode = GssEncryptionMode.Disable;
        builder.ConnectionLifetime = (int)lifetime.TotalSeconds;
        bool tunnelled = settings.HostAddress is not null;
        npgsql.UseSslClientAuthenticationOptionsCallback(options =>
        {
            options.EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
            // Through a tunnel or to a local address, the certificate must still name the DSQL endpoint (and SNI carries it).
            if (tunnelled) options.TargetHost = endpoint;
        });
    }
}
