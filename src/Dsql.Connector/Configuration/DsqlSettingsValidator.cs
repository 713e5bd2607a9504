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
            CheckHost(settings.Host);
            DsqlRegionResolver.Known(settings.Host, settings.Region);
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

    /// <summary>Checks the Host setting and returns it trimmed and lower-cased.</summary>
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

        RefuseSeveralHosts(trimmed);
        if (!DsqlEndpointName.IsClusterId(trimmed) && !DsqlEndpointName.IsEndpoint(trimmed))
        {
            throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Host),
                $"Host '{trimmed}' is neither a DSQL endpoint (<cluster id>.dsql.<region>.on.aws) nor a 26-character " +
                "cluster id. To connect through a tunnel, a port forward or a local emulator, keep Host as the endpoint " +
                "and set Host Address to the address to connect to.");
        }

        return trimmed.ToLowerInvariant();
    }

    /// <summary>Returns <paramref name="host"/> when it names one host.</summary>
    /// <exception cref="DsqlConfigurationException">(Setting <c>Host</c>) It is a comma-separated list.</exception>
    public static string RefuseSeveralHosts(string host) =>
        host.Contains(',', StringComparison.Ordinal)
            ? throw OneEndpointOnly($"Host '{host}' names several hosts")
            : host;

    /// <summary>
    /// The refusal of more than one host: the connector connects a data source to one endpoint and has no multi-host
    /// mode, so it says what works today instead.
    /// </summary>
    public static DsqlConfigurationException OneEndpointOnly(string what) =>
        new(nameof(DsqlConnectionStringBuilder.Host),
            $"{what}, but a DSQL connection string holds one endpoint: the connector has no multi-host mode. Connect " +
            "to each endpoint separately: for a multi-Region cluster, build one DsqlDataSource per Regional endpoint " +
            "(each signs its tokens for its own endpoint and Region; both serve the same database) and choose between " +
            "them in your application. To reach an endpoint through another address (a tunnel, a proxy, the emulator), " +
            "keep Host as the endpoint and set Host Address.");
}
