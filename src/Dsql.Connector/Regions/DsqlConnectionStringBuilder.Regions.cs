namespace Dsql.Connector;

public sealed partial class DsqlConnectionStringBuilder
{
    /// <summary>
    /// The endpoints <see cref="Host"/> names, each with the port given after it (<c>host:port</c>), if any. One entry
    /// for a single host.
    /// </summary>
    internal IReadOnlyList<(string Host, int? Port)> Hosts
        => string.IsNullOrWhiteSpace(Host) ? []
            : DsqlHostList.IsList(Host) ? DsqlHostList.Entries(Host!)
            : [(Host!.Trim(), null)];

    /// <summary>
    /// The Region whose endpoint opens go to while it is healthy, when <see cref="Host"/> names several endpoints of a
    /// multi-Region cluster (or endpoints are added with <see cref="DsqlDataSourceBuilder.AddEndpoint"/>): an AWS
    /// Region name such as <c>us-east-1</c> that must be the Region of one of the endpoints. Null by default: the
    /// endpoint in the Region this process runs in (<c>AWS_REGION</c>, <c>AWS_DEFAULT_REGION</c>, then the AWS
    /// profile's region), else the first endpoint. With a single endpoint it must name that endpoint's Region and
    /// changes nothing (so one setting can serve deployments with one endpoint or several); another Region is refused
    /// when the data source is built. Keyword <c>Preferred Region</c>. See docs/multi-region.md.
    /// </summary>
    public string? PreferredRegion { get => Get(DsqlKeywords.PreferredRegion); set => Put(DsqlKeywords.PreferredRegion, value); }

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
