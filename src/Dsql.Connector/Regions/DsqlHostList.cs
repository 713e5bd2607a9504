using System.Globalization;

namespace Dsql.Connector;

/// <summary>
/// A <c>Host</c> that names several regional endpoints of one multi-Region cluster:
/// <c>a.dsql.us-east-1.on.aws,b.dsql.us-east-2.on.aws</c>, each entry optionally <c>host:port</c> (a tunnel, the
/// emulator). Each entry must be a full endpoint, because its name gives the Region its tokens are signed for.
/// </summary>
internal static class DsqlHostList
{
    /// <summary>Whether <paramref name="host"/> names several endpoints.</summary>
    public static bool IsList(string? host) => host is not null && host.Contains(',', StringComparison.Ordinal);

    /// <summary>The text of a Host value as stored: a list with its entries trimmed, a single host as given.</summary>
    public static string Normalize(string text)
        => IsList(text) ? string.Join(",", text.Split(',').Select(e => e.Trim())) : text;

    /// <summary>The entries of <paramref name="host"/> without any check (a port that is no number stays in the host).</summary>
    public static IReadOnlyList<(string Host, int? Port)> Entries(string host)
        => host.Split(',').Select(e => e.Trim()).Where(e => e.Length > 0).Select(e => Split(e) is ({ } h, { } p, null) ? (h, p) : (e, (int?)null)).ToArray();

    /// <summary>
    /// Checks a list of endpoints and returns its entries, host names lower-cased. <paramref name="region"/> is the
    /// Region setting, which a list does not take.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">(Setting <c>Host</c> or <c>Region</c>) What is wrong, with the value.</exception>
    public static IReadOnlyList<(string Host, int? Port)> Check(string host, string? region)
    {
        var entries = new List<(string Host, int? Port)>();
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in host.Split(','))
        {
            var entry = raw.Trim();
            if (entry.Length == 0)
            {
                throw Problem($"Host '{host}' has an empty entry: list the regional endpoints separated by single commas (Host=<id>.dsql.us-east-1.on.aws,<id>.dsql.us-east-2.on.aws).");
            }

            var (name, port, portProblem) = Split(entry);
            if (portProblem is not null)
            {
                throw Problem($"Host entry '{entry}' in Host '{host}' has port '{portProblem}', which is not a port number (1-65535): write host:port, or leave the port out to use Port.");
            }

            if (DsqlEndpointName.IsClusterId(name))
            {
                throw Problem($"Host entry '{name}' in Host '{host}' is a cluster id, but when Host names several endpoints each must be a full endpoint (<cluster id>.dsql.<region>.on.aws): the Region its tokens are signed for comes from its name. Write the endpoint of that cluster in its Region.");
            }

            if (!DsqlEndpointName.IsEndpoint(name))
            {
                throw Problem($"Host entry '{name}' in Host '{host}' is not a DSQL endpoint (<cluster id>.dsql.<region>.on.aws). To connect through a tunnel or the emulator, keep the endpoint in Host and set Host Address (and a port per entry: host:port).");
            }

            if (seen.TryGetValue(name, out var first))
            {
                throw Problem($"Host '{host}' names the endpoint '{name}' twice ('{first}' and '{entry}'): name each regional endpoint of the cluster once.");
            }

            seen.Add(name, entry);
            entries.Add((name.ToLowerInvariant(), port));
        }

        if (region is not null)
        {
            throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.Region),
                $"Region '{region}' is set, but Host names several endpoints ('{host}'): each endpoint's tokens are signed for the Region in its own name. Remove Region (use Preferred Region to choose the endpoint opens go to first).");
        }

        return entries;
    }

    /// <summary>
    /// Checks that <paramref name="preferred"/> is the Region of one of <paramref name="endpoints"/> (each an endpoint
    /// and its Region) and returns its index. <paramref name="setting"/> is how the user named it.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">(Setting <c>PreferredRegion</c>) No endpoint is in that Region.</exception>
    public static int IndexOfRegion(string preferred, IReadOnlyList<(string Endpoint, string Region)> endpoints, string setting)
    {
        var wanted = preferred.Trim().ToLowerInvariant();
        for (int i = 0; i < endpoints.Count; i++)
        {
            if (endpoints[i].Region == wanted) return i;
        }

        var list = string.Join(", ", endpoints.Select(e => $"{e.Endpoint} in {e.Region}"));
        throw new DsqlConfigurationException(nameof(DsqlConnectionStringBuilder.PreferredRegion), endpoints.Count == 1
            ? $"{setting} '{preferred}' is not the Region of the only endpoint ({list}): a preferred Region chooses between several endpoints. Remove it, set it to {endpoints[0].Region}, or name the other endpoints too."
            : $"{setting} '{preferred}' is not the Region of any endpoint ({list}). Name one of their Regions, or remove it to prefer the endpoint in the Region this process runs in.");
    }

    private static DsqlConfigurationException Problem(string message) => new(nameof(DsqlConnectionStringBuilder.Host), message);

    /// <summary>Host and port of one entry; a port that is no number is returned as the problem.</summary>
    private static (string Host, int? Port, string? PortProblem) Split(string entry)
    {
        var colon = entry.LastIndexOf(':');
        if (colon < 0) return (entry, null, null);
        var portText = entry[(colon + 1)..].Trim();
        var name = entry[..colon].Trim();
        return int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? (name, port, null)
            : (name, null, portText);
    }
}
