using System.Text.RegularExpressions;

namespace Dsql.Connector;

/// <summary>
/// The shapes of DSQL names, without any I/O: cluster ids (26 characters <c>[a-z0-9]</c>), endpoints
/// (<c>&lt;id&gt;.dsql[-suffix].&lt;region&gt;.on.aws</c>, PrivateLink names included) and Region names.
/// </summary>
internal static partial class DsqlEndpointName
{
    /// <summary>Whether <paramref name="host"/> is a bare cluster id.</summary>
    public static bool IsClusterId(string host) => ClusterIdPattern().IsMatch(host);

    /// <summary>Whether <paramref name="region"/> looks like an AWS Region name such as <c>us-east-1</c>.</summary>
    public static bool IsRegion(string region) => RegionPattern().IsMatch(region);

    /// <summary>Whether <paramref name="host"/> is a DNS name that ends like a DSQL endpoint.</summary>
    public static bool IsEndpoint(string host) => HostNamePattern().IsMatch(host) && EndpointPattern().IsMatch(host);

    /// <summary>The Region an endpoint names (lower-cased), or null when <paramref name="host"/> is not an endpoint.</summary>
    public static string? RegionOf(string host)
    {
        var match = EndpointPattern().Match(host);
        return match.Success ? match.Groups[1].Value.ToLowerInvariant() : null;
    }

    /// <summary>The cluster id of a bare id or of an endpoint whose first label is one (lower-cased), else null.</summary>
    public static string? ClusterIdOf(string host)
    {
        if (IsClusterId(host))
        {
            return host.ToLowerInvariant();
        }

        var dot = host.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && EndpointPattern().IsMatch(host) && IsClusterId(host[..dot]) ? host[..dot].ToLowerInvariant() : null;
    }

    /// <summary>The endpoint of a cluster id in a Region.</summary>
    public static string EndpointOf(string clusterId, string region) => $"{clusterId.ToLowerInvariant()}.dsql.{region}.on.aws";

    /// <summary>Whether <paramref name="value"/> is a host name or an IP address (IPv6 optionally in brackets).</summary>
    public static bool IsHostOrAddress(string value)
    {
        var text = value.Trim();
        if (text.Length != value.Length || text.Length == 0)
        {
            return false;
        }

        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1];
        }

        return Uri.CheckHostName(text) != UriHostNameType.Unknown;
    }

    [GeneratedRegex("^[a-z0-9]{26}$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex ClusterIdPattern();

    [GeneratedRegex(@"\.dsql[^.]*\.([^.]+)\.on\.aws$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex EndpointPattern();

    [GeneratedRegex(@"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex HostNamePattern();

    [GeneratedRegex("^[a-z]{2}(-[a-z0-9]+)+$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex RegionPattern();
}
