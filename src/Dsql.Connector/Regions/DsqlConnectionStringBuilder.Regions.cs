namespace Dsql.Connector;

public sealed partial class DsqlConnectionStringBuilder
{
    /// <summary>
    /// The endpoints <see cref="Host"/> names, each with the port given after it (<c>host:port</c>), if any. One entry
    /// for a single host.
    /// </summary>
    internal IReadOnlyList<(string Host, int? Port)> Hosts
        => string.IsNullOrWhiteSpace(Host) ? [] : [(Host!.Trim(), null)];

    /// <summary>The Region whose endpoint is preferred (several endpoints only); null: the process's Region.</summary>
    internal string? PreferredRegion => null;

    /// <summary>
    /// A copy of these settings for one endpoint, <paramref name="host"/> as Host. <paramref name="peer"/>: an endpoint
    /// added beside these settings, whose Region, Port and Host Address go back to their defaults (the hosts of this
    /// connection string keep them).
    /// </summary>
    internal DsqlConnectionStringBuilder CloneFor(string host, bool peer)
    {
        var copy = new DsqlConnectionStringBuilder(ToString()) { Host = host, Region = null };
        if (peer)
        {
            copy.HostAddress = null;
            copy.Remove("Port");
        }
        return copy;
    }
}
