using System.Globalization;
using Dsql.Connector;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// Maps the <c>sink:</c> options to Dsql.Connector's settings, and reports the connector's own checks of them
/// (endpoint form, the one database, pool and lifetime limits, the root certificate file) under the file's key
/// paths, so DSQL's limits have one home: the connector.
/// </summary>
internal static class SinkConnectorSettings
{
    /// <summary>A cluster id that stands in for a refused host, so the other settings can still be checked.</summary>
    private const string StandInClusterId = "aaaaaaaaaaaaaaaaaaaaaaaaaa";

    /// <summary>Sets everything but Host on <paramref name="settings"/>.</summary>
    public static void Apply(DsqlSinkOptions sink, DsqlConnectionStringBuilder settings)
    {
        settings.Port = sink.Port;
        settings.Database = sink.Database;
        settings.Region = sink.Region;
        if (sink.Username is not null)
        {
            settings.Username = sink.Username;
        }

        settings.MaxPoolSize = sink.MaxPoolSize;
        settings.MinPoolSize = sink.MinPoolSize;
        settings.ConnectionLifetime = sink.ConnectionMaxLifetime;
        settings.ConnectionIdleLifetime = sink.ConnectionIdleTimeout;
        settings.HostAddress = sink.HostAddress;
        settings.RootCertificate = sink.RootCertificate;
    }

    /// <summary>
    /// Every problem the connector finds in the settings of <paramref name="sink"/>, each under its key path. The
    /// connector's <see cref="DsqlConnectionStringBuilder.Validate"/> names the first problem; the setting at fault is
    /// then put back to a value the connector accepts and the check repeated, until no problem is left.
    /// </summary>
    public static void Collect(DsqlSinkOptions sink, PipelineSection section)
    {
        var settings = new DsqlConnectionStringBuilder { Host = sink.Host };
        Apply(sink, settings);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            try
            {
                settings.Validate();
                return;
            }
            catch (DsqlConfigurationException ex)
            {
                var (key, value) = KeyOf(ex.Setting, sink);
                if (!reported.Add(ex.Setting) || key is null)
                {
                    section.Problem(section.Name, $"the connector refuses these settings: {ex.Message}");
                    return;
                }

                if (!section.HasProblem(section.PathOf(key)))
                {
                    section.Problem(section.PathOf(key), $"'{value}' is refused by Dsql.Connector: {ex.Message}");
                }

                StandIn(ex.Setting, settings);
            }
        }
    }

    private static (string? Key, string? Value) KeyOf(string setting, DsqlSinkOptions sink) => setting switch
    {
        nameof(DsqlConnectionStringBuilder.Host) => ("host", sink.Host),
        nameof(DsqlConnectionStringBuilder.Port) => ("port", Text(sink.Port)),
        nameof(DsqlConnectionStringBuilder.Database) => ("database", sink.Database),
        nameof(DsqlConnectionStringBuilder.Region) => ("region", sink.Region),
        nameof(DsqlConnectionStringBuilder.Username) => ("username", sink.Username),
        nameof(DsqlConnectionStringBuilder.MaxPoolSize) => ("max-pool-size", Text(sink.MaxPoolSize)),
        nameof(DsqlConnectionStringBuilder.MinPoolSize) => ("min-pool-size", Text(sink.MinPoolSize)),
        nameof(DsqlConnectionStringBuilder.ConnectionLifetime) =>
            ("connection-max-lifetime-ms", Text((long?)sink.ConnectionMaxLifetime?.TotalMilliseconds)),
        nameof(DsqlConnectionStringBuilder.ConnectionIdleLifetime) =>
            ("connection-idle-timeout-ms", Text((long)sink.ConnectionIdleTimeout.TotalMilliseconds)),
        nameof(DsqlConnectionStringBuilder.HostAddress) => ("host-address", sink.HostAddress),
        nameof(DsqlConnectionStringBuilder.RootCertificate) => ("root-certificate", sink.RootCertificate),
        _ => (null, null),
    };

    private static void StandIn(string setting, DsqlConnectionStringBuilder settings)
    {
        switch (setting)
        {
            case nameof(DsqlConnectionStringBuilder.Host):
                settings.Host = StandInClusterId;
                break;
            case nameof(DsqlConnectionStringBuilder.Port):
                settings.Port = DsqlConnectionStringBuilder.DefaultPort;
                break;
            case nameof(DsqlConnectionStringBuilder.Database):
                settings.Database = DsqlSinkOptions.DefaultDatabase;
                break;
            case nameof(DsqlConnectionStringBuilder.Region):
                settings.Region = null;
                break;
            case nameof(DsqlConnectionStringBuilder.Username):
                settings.Username = "admin";
                break;
            case nameof(DsqlConnectionStringBuilder.MaxPoolSize):
                settings.MaxPoolSize = Math.Max(settings.MinPoolSize, 1);
                break;
            case nameof(DsqlConnectionStringBuilder.MinPoolSize):
                settings.MinPoolSize = 0;
                break;
            case nameof(DsqlConnectionStringBuilder.ConnectionLifetime):
                settings.ConnectionLifetime = null;
                break;
            case nameof(DsqlConnectionStringBuilder.ConnectionIdleLifetime):
                settings.ConnectionIdleLifetime = TimeSpan.FromMilliseconds(DsqlSinkOptions.DefaultConnectionIdleTimeoutMs);
                break;
            case nameof(DsqlConnectionStringBuilder.HostAddress):
                settings.HostAddress = null;
                break;
            case nameof(DsqlConnectionStringBuilder.RootCertificate):
                settings.RootCertificate = null;
                break;
        }
    }

    private static string? Text(long? value) => value?.ToString(CultureInfo.InvariantCulture);
}
