using Amazon.Runtime;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// The settings <c>AddDsql()</c> builds a <see cref="DsqlDataSource"/> from: a connection string and/or individual
/// settings (the connection-string keywords, e.g. <c>Host</c>, <c>Region</c>, <c>Profile</c>,
/// <c>Maximum Pool Size</c>), bound from configuration or set in code. Individual settings win over the
/// connection string.
/// </summary>
/// <example>
/// <code>
/// // appsettings.json
/// { "Dsql": { "Host": "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", "Profile": "orders", "Maximum Pool Size": "50" } }
/// </code>
/// </example>
public sealed class DsqlOptions
{
    /// <summary>The configuration section <c>AddDsql(IConfiguration)</c> reads by default.</summary>
    public const string DefaultSectionName = "Dsql";

    /// <summary>A connection string (Npgsql-style pairs or a <c>postgres://</c> URI), applied first.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Individual settings by connection-string keyword (case-insensitive), applied over <see cref="ConnectionString"/>.</summary>
    public IDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// How endpoints are judged impaired and used again, when <c>Host</c> names several regional endpoints (configuration
    /// keys <c>Failover:FailureThreshold</c>, <c>Failover:FailureWindow</c>, <c>Failover:ProbeInterval</c>,
    /// <c>Failover:RecoveryProbes</c>, <c>Failover:FailbackDelay</c>, <c>Failover:EndpointOpenTimeout</c>; times in
    /// seconds or <c>hh:mm:ss</c>). See docs/multi-region.md.
    /// </summary>
    public DsqlFailoverOptions Failover { get; } = new();

    /// <summary>Credentials to sign tokens with; when null, an <see cref="AWSCredentials"/> registered in the container, else the <c>Profile</c> setting or the AWS default chain.</summary>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>Further configuration of the inner <see cref="NpgsqlDataSourceBuilder"/> (type mappings, plugins).</summary>
    public Action<NpgsqlDataSourceBuilder>? ConfigureNpgsql { get; set; }

    /// <summary>
    /// Where the settings came from (e.g. the configuration section path <c>Dsql</c>), used to name each setting in
    /// error messages as <c>Dsql:Port</c>.
    /// </summary>
    internal string? SourcePath { get; set; }

    /// <summary>The configuration path of the <c>Endpoints</c> list the Host setting came from, if it did.</summary>
    internal string? EndpointsPath { get; set; }

    /// <summary>What binding from configuration found wrong (a missing section, a nested section), reported at validation.</summary>
    internal List<string> BindingProblems { get; } = [];

    /// <summary>
    /// A Preferred Region must be the Region of one of the endpoints Host names (known from their names, or from Region
    /// for a single host): checked here so that start-up validation reports it with the rest.
    /// </summary>
    private void CheckPreferredRegion(DsqlConnectionStringBuilder settings, List<string> problems, Func<string, string> path)
    {
        if (settings.PreferredRegion is not { } preferred) return;
        var endpoints = new List<(string Endpoint, string Region)>();
        foreach (var (host, _) in settings.Hosts)
        {
            if ((DsqlEndpointName.RegionOf(host) ?? settings.Region?.Trim().ToLowerInvariant()) is not { } region) return; // resolved when built
            endpoints.Add((host.ToLowerInvariant(), region));
        }
        try
        {
            DsqlHostList.IndexOfRegion(preferred, endpoints, "Preferred Region");
        }
        catch (DsqlConfigurationException ex)
        {
            problems.Add($"{path(KeyFor(ex.Setting))}: {ex.Message}");
        }
    }

    /// <summary>The key the user wrote for a setting (e.g. <c>Maximum Pool Size</c> for MaxPoolSize), else the setting's name.</summary>
    private string KeyFor(string setting)
    {
        foreach (var key in Settings.Keys)
            if (DsqlConnectionStringBuilder.SettingOfKeyword(key) == setting) return key;
        return setting;
    }

    /// <summary>
    /// Parses and validates every setting, collecting every problem (not only the first), each named by its
    /// configuration path. Returns the settings, or null with the problems filled in.
    /// </summary>
    internal DsqlConnectionStringBuilder? TryCreateSettings(List<string> problems)
    {
        string Path(string key) => SourcePath is null ? key : $"{SourcePath}:{key}";
        DsqlConnectionStringBuilder settings;
        try
        {
            // Validated as a whole below, once the individual settings are applied too.
            settings = string.IsNullOrWhiteSpace(ConnectionString) ? new DsqlConnectionStringBuilder() : new DsqlConnectionStringBuilder(ConnectionString, validate: false);
        }
        catch (DsqlConfigurationException ex)
        {
            problems.Add($"{Path("ConnectionString")}: {ex.Message}");
            settings = new DsqlConnectionStringBuilder();
        }
        foreach (var (key, value) in Settings)
        {
            try
            {
                settings.Set(key, value);
            }
            catch (DsqlConfigurationException ex)
            {
                problems.Add($"{Path(key)}: {ex.Message}");
            }
        }
        bool noHost = string.IsNullOrWhiteSpace(settings.Host);
        if (noHost)
            problems.Add($"{Path("Host")}: no DSQL endpoint is configured; set Host to the cluster endpoint (<cluster-id>.dsql.<region>.on.aws) or to the cluster id together with Region.");
        var invalid = new List<DsqlConfigurationException>();
        settings.CollectProblems(invalid);
        foreach (var problem in invalid)
        {
            if (noHost && problem.Setting is "Host" or "Region") continue;
            problems.Add($"{(problem.Setting == "Host" && EndpointsPath is not null ? EndpointsPath : Path(KeyFor(problem.Setting)))}: {problem.Message}");
        }
        if (!noHost && !invalid.Exists(p => p.Setting is "Host" or "PreferredRegion")) CheckPreferredRegion(settings, problems, Path);
        try
        {
            Failover.Copy().Validate();
        }
        catch (DsqlConfigurationException ex)
        {
            // Setting "Failover.FailureThreshold" and the like: the key is Failover:FailureThreshold.
            problems.Add($"{Path(ex.Setting.Replace('.', ':'))}: {ex.Message}");
        }
        if (problems.Count > 0) return null;
        return settings;
    }
}
