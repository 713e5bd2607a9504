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

    /// <summary>Credentials to sign tokens with; when null, an <see cref="AWSCredentials"/> registered in the container, else the <c>Profile</c> setting or the AWS default chain.</summary>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>Further configuration of the inner <see cref="NpgsqlDataSourceBuilder"/> (type mappings, plugins).</summary>
    public Action<NpgsqlDataSourceBuilder>? ConfigureNpgsql { get; set; }

    /// <summary>
    /// Where the settings came from (e.g. the configuration section path <c>Dsql</c>), used to name each setting in
    /// error messages as <c>Dsql:Port</c>.
    /// </summary>
    internal string? SourcePath { get; set; }

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
        // Every problem is reported, not only the first: a missing Host does not hide the other settings' checks,
        // and after each failed check the setting at fault is reset to its default and the checks run again.
        bool hostMissing = string.IsNullOrWhiteSpace(settings.Host);
        if (hostMissing)
            problems.Add($"{Path("Host")}: no DSQL endpoint is configured; set Host to the cluster endpoint (<cluster-id>.dsql.<region>.on.aws) or to the cluster id together with Region.");
        var reset = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int round = 0; round < 64; round++) // each round reports a new setting or stops
        {
            try
            {
                if (hostMissing)
                {
                    settings.ValidateSettings();
                }
                else
                {
                    settings.Validate();
                    settings.ResolveRegion();
                }
                break;
            }
            catch (DsqlConfigurationException ex)
            {
                // Named as configured (Dsql:Maximum Pool Size), not by the property (MaxPoolSize).
                string key = Settings.Keys.FirstOrDefault(k => DsqlConnectionStringBuilder.IsSameSetting(k, ex.Setting)) ?? ex.Setting;
                if (!reset.Add(key)) break; // its default fails too: reported once is enough
                problems.Add($"{Path(key)}: {ex.Message}");
                try
                {
                    settings.Set(key, null);
                }
                catch (DsqlConfigurationException)
                {
                    break;
                }
                hostMissing = string.IsNullOrWhiteSpace(settings.Host);
            }
        }
        return problems.Count == 0 ? settings : null;
    }
}
