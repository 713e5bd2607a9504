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
    private readonly List<(string Host, Action<DsqlConnectionStringBuilder>? Configure)> _peers = new();
    private readonly DsqlFailoverOptions _failover = new();
    private string? _preferredRegion;
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
    /// Adds another regional endpoint of the same multi-Region cluster: the data source then opens on the preferred
    /// endpoint (<see cref="PreferRegion"/>) while it is healthy and on a peer when it is not (see docs/multi-region.md).
    /// The endpoint's settings are those of <see cref="Settings"/> with <c>Host</c> replaced by <paramref name="host"/>
    /// (and <c>Region</c>, <c>Port</c> and <c>Host Address</c> cleared); <paramref name="configure"/> may set them.
    /// Each endpoint gets its own pool, tokens signed for its host and Region, and connect-rate bucket.
    /// </summary>
    /// <param name="host">The endpoint, <c>&lt;cluster id&gt;.dsql.&lt;region&gt;.on.aws</c>.</param>
    /// <param name="configure">Adjusts this endpoint's settings (its <c>Region</c>, <c>Port</c>, <c>Host Address</c>, ...).</param>
    public DsqlDataSourceBuilder AddEndpoint(string host, Action<DsqlConnectionStringBuilder>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        _peers.Add((host.Trim(), configure));
        return this;
    }

    /// <summary>
    /// The Region whose endpoint opens go to while it is healthy. By default: the Region this process runs in (the
    /// <c>AWS_REGION</c> / <c>AWS_DEFAULT_REGION</c> variables, then the AWS profile) when one of the endpoints is in
    /// it, else the endpoint of <see cref="Settings"/>.
    /// </summary>
    public DsqlDataSourceBuilder PreferRegion(string region)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(region);
        _preferredRegion = region.Trim().ToLowerInvariant();
        return this;
    }

    /// <summary>Adjusts how endpoints are judged impaired and when they are used again (with several endpoints).</summary>
    public DsqlDataSourceBuilder ConfigureFailover(Action<DsqlFailoverOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(_failover);
        return this;
    }

    /// <summary>
    /// Validates the settings and builds the data source. Everything is copied: what is done to this builder or its
    /// <see cref="Settings"/> afterwards changes nothing built. Nothing connects until the first open.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">A setting is invalid; the message names it and its value.</exception>
    public DsqlDataSource Build()
    {
        if (_peers.Count > 0 || Settings.Hosts.Count > 1) return BuildMultiRegion();
        var single = BuildSingle(Settings);
        if (_preferredRegion is not null || Settings.PreferredRegion is not null)
        {
            try
            {
                // One endpoint: a preferred Region must be its own (then it changes nothing).
                PreferredIndex([single]);
            }
            catch
            {
                single.Dispose();
                throw;
            }
        }
        return single;
    }

    private DsqlDataSource BuildSingle(DsqlConnectionStringBuilder source)
    {
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

    /// <summary>One data source per endpoint (the connection string's hosts, then those added), and the router over them.</summary>
    private DsqlDataSource BuildMultiRegion()
    {
        var failover = _failover.Copy();
        failover.Validate();
        Settings.Validate(); // the list of hosts as a whole (each endpoint's settings are checked again below)
        var endpoints = new List<DsqlConnectionStringBuilder>();
        var hosts = Settings.Hosts;
        foreach (var (host, port) in hosts)
        {
            var single = Settings.CloneFor(host, peer: false);
            if (port is { } p) single.Port = p;
            endpoints.Add(single);
        }
        foreach (var (host, configure) in _peers)
        {
            var single = Settings.CloneFor(host, peer: true);
            configure?.Invoke(single);
            endpoints.Add(single);
        }
        var built = new List<DsqlDataSource>(endpoints.Count);
        try
        {
            foreach (var endpoint in endpoints) built.Add(BuildSingle(endpoint));
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var endpoint in built)
            {
                if (!seen.Add(endpoint.Endpoint))
                    throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Host), $"Endpoint '{endpoint.Endpoint}' is named twice: each regional endpoint of the cluster once.");
            }
            int preferred = PreferredIndex(built);
            return new DsqlDataSource(built, preferred, failover, _loggerFactory, _timeProvider);
        }
        catch
        {
            foreach (var endpoint in built) endpoint.Dispose();
            throw;
        }
    }

    private int PreferredIndex(List<DsqlDataSource> built)
    {
        string? wanted = _preferredRegion ?? Settings.PreferredRegion;
        if (wanted is not null)
        {
            return DsqlHostList.IndexOfRegion(wanted, built.Select(e => (e.Endpoint, e.Region)).ToArray(),
                _preferredRegion is not null ? "PreferRegion" : "Preferred Region");
        }
        string? here;
        try
        {
            here = DsqlRegionResolver.Resolve(null, null, Settings.Profile, DsqlRegionResolver.ReadProfileRegion, Environment.GetEnvironmentVariable);
        }
        catch (DsqlConfigurationException)
        {
            here = null; // this process's Region is unknown: the first endpoint is preferred
        }
        int local = here is null ? -1 : built.FindIndex(e => e.Region == here);
        return local < 0 ? 0 : local;
    }
}
