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

    /// <summary>Starts from settings already parsed (this builder works on them; <see cref="Build"/> copies them).</summary>
    public DsqlDataSourceBuilder(DsqlConnectionStringBuilder settings)
    {
        Settings = settings ?? throw new ArgumentNullException(nameof(settings));
    }

    /// <summary>The parsed settings; adjust them before <see cref="Build"/> (changes after it do not reach a built data source).</summary>
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

    /// <summary>
    /// Validates the settings and builds the data source. Everything is copied: what is done to this builder or its
    /// <see cref="Settings"/> afterwards changes nothing built. Nothing connects until the first open.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">A setting is invalid; the message names it and its value.</exception>
    public DsqlDataSource Build()
    {
        var source = Settings;
        source.Validate();
        // The one place the Region is resolved (environment, AWS profile): the settings' getters read neither.
        var (endpoint, region) = DsqlRegionResolver.ResolveEndpoint(source);
        var lifetime = source.ConnectionLifetime ?? MaxConnectionLifetime - TimeSpan.FromSeconds(Random.Shared.Next(0, (int)LifetimeSpread.TotalSeconds + 1));
        var settings = DsqlSettings.Freeze(source, endpoint, region, lifetime);
        var logger = _loggerFactory.CreateLogger("Dsql.Connector");

        var credentials = _credentials ?? DsqlCredentials.Resolve(settings.Profile);
        var tokenProvider = new DsqlTokenProvider(new DsqlTokenGenerator(credentials, _timeProvider), settings.TokenLifetime, _timeProvider, logger);
        var pacer = ConnectRateLimiters.For(settings.Endpoint, settings.ConnectionRatePerSecond, settings.ConnectionBurst);
        return new DsqlDataSource(settings, tokenProvider, pacer, _loggerFactory, _npgsqlConfigurations.ToArray(), _timeProvider);
    }
}
