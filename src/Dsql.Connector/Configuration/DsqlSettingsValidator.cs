using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Checks a <see cref="DsqlConnectionStringBuilder"/> as a whole, without I/O beyond the existence of the
/// <c>Root Certificate</c> file: the host, the Region as far as the settings state it, each keyword's own checks
/// (<see cref="DsqlKeyword.Check"/>) in table order, and the rules that span keywords.
/// </summary>
internal static class DsqlSettingsValidator
{
    /// <summary>Adds every problem of <paramref name="settings"/>, in keyword order.</summary>
    public static void Collect(DsqlConnectionStringBuilder settings, List<DsqlConfigurationException> problems)
    {
        try
        {
            if (DsqlHostList.IsList(settings.Host))
            {
                DsqlHostList.Check(settings.Host!, settings.Region);
            }
            else
            {
                CheckHost(settings.Host);
                DsqlRegionResolver.Known(settings.Host, settings.Region);
            }
        }
        catch (DsqlConfigurationException ex)
        {
            problems.Add(ex);
        }

        foreach (var keyword in DsqlKeywords.All)
        {
            if (keyword != DsqlKeywords.Host && keyword != DsqlKeywords.Region &&
                keyword.Check(settings.ValueOf(keyword), settings) is { } problem)
            {
                problems.Add(problem);
            }
        }

        if (settings.NpgsqlOptions.TryGetValue("SSL Negotiation", out var negotiation) &&
            string.Equals(negotiation, nameof(SslNegotiation.Direct), StringComparison.OrdinalIgnoreCase) &&
            settings.SslMode is SslMode.Disable or SslMode.Allow or SslMode.Prefer)
        {
            problems.Add(new DsqlConfigurationException(nameof(SslNegotiation),
                $"SSL Negotiation '{negotiation}' needs SSL Mode Require or stronger, but SSL Mode is '{settings.SslMode}'."));
        }
    }

    /// <summary>Checks a Host setting that names one endpoint and returns it trimmed and lower-cased.</summary>
    /// <exception cref="DsqlConfigurationException">(Setting <c>Host</c>) It is empty, a list, or no DSQL name.</exception>
    public static string CheckHost(string? host)
    {
        var trimmed = host?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Host),
                $"Host '{host}' is empty: set it to the cluster endpoint (<cluster id>.dsql.<region>.on.aws) or to the " +
                "26-character cluster id together with Region.");
        }

        if (DsqlHostList.IsList(trimmed))
        {
            throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Host),
                $"Host '{trimmed}' names several endpoints, and this asks for one: a data source built from these settings " +
                "has one per endpoint (see DsqlDataSource.Endpoints).");
        }

        if (!DsqlEndpointName.IsClusterId(trimmed) && !DsqlEndpointName.IsEndpoint(trimmed))
        {
            throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Host),
                $"Host '{trimmed}' is neither a DSQL endpoint (<cluster id>.dsql.<region>.on.aws) nor a 26-character " +
                "cluster id. To connect through a tunnel, a port forward or a local emulator, keep Host as the endpoint " +
                "and set Host Address to the address to connect to.");
        }

        return trimmed.ToLowerInvariant();
    }

    /// <summary>
    /// The refusal of a <c>Host</c> keyword given twice: several endpoints are listed in one <c>Host</c>, separated by
    /// commas.
    /// </summary>
    public static DsqlConfigurationException HostGivenTwice(string first, string second) =>
        new(nameof(DsqlConnectionStringBuilder.Host),
            $"Host is given twice ('{first}' and '{second}'). To name the regional endpoints of a multi-Region cluster, " +
            $"list them in one Host separated by commas (Host={first},{second}); to reach an endpoint through another " +
            "address (a tunnel, a proxy, the emulator), keep Host as the endpoint and set Host Address.");
}
