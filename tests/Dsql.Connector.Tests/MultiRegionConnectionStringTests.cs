namespace Dsql.Connector.Tests;

/// <summary>
/// A connection string whose Host lists the regional endpoints of a multi-Region cluster, and Preferred Region: what
/// is accepted, what each refusal says (the setting and the value), and that formatting reads back the same.
/// </summary>
public sealed class MultiRegionConnectionStringTests
{
    private const string East = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    // A multi-Region cluster's endpoints have a cluster id per Region.
    private const string West = "zyxwvutsrqponmlkjihgfedcba.dsql.us-west-2.on.aws";

    private static DsqlConfigurationException Fails(string connectionString, string setting, params string[] contains)
    {
        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlConnectionStringBuilder(connectionString));
        Assert.Equal(setting, e.Setting);
        foreach (var text in contains) Assert.Contains(text, e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void Host_lists_regional_endpoints_each_with_an_optional_port()
    {
        var b = new DsqlConnectionStringBuilder($"Host={East}:6001, {West.ToUpperInvariant()} ;Port=6000;Preferred Region=us-west-2");
        Assert.Equal([(East, (int?)6001), (West.ToUpperInvariant(), null)], b.Hosts);
        Assert.Equal("us-west-2", b.PreferredRegion);
        Assert.Null(b.ClusterId); // one per Region
        var endpoint = Assert.Throws<DsqlConfigurationException>(() => b.Endpoint);
        Assert.Equal("Host", endpoint.Setting);
        Assert.Contains("several endpoints", endpoint.Message, StringComparison.Ordinal);
        Assert.Equal("Host", Assert.Throws<DsqlConfigurationException>(() => b.ResolveRegion()).Setting);
    }

    [Theory]
    [InlineData("Host=" + East + "," + West + ";Preferred Region=us-east-1")]
    [InlineData("Host=" + East + ":6001," + West + ":6002;Host Address=127.0.0.1;Preferred Region=us-west-2;Maximum Pool Size=7")]
    [InlineData("postgres://" + East + ":5432," + West + ":5433/postgres?preferredregion=us-west-2")]
    public void Formatting_reads_back_the_same_settings(string connectionString)
    {
        var b = new DsqlConnectionStringBuilder(connectionString);
        var again = new DsqlConnectionStringBuilder(b.ToString());
        Assert.Equal(b.ToString(), again.ToString());
        Assert.Equal(b.Hosts, again.Hosts);
        Assert.Equal(b.PreferredRegion, again.PreferredRegion);
        Assert.True(b.EquivalentTo(again));
    }

    [Fact]
    public void A_uri_with_several_hosts_names_each_with_its_port()
    {
        var b = new DsqlConnectionStringBuilder("postgres://" + East + ":5432," + West + ":5433/postgres");
        Assert.Equal([(East, (int?)5432), (West, (int?)5433)], b.Hosts);
    }

    [Theory]
    [InlineData("Host=abcdefghijklmnopqrstuvwxyz," + West, "Host", "'abcdefghijklmnopqrstuvwxyz'", "cluster id", "Region")]
    [InlineData("Host=" + East + "," + West + "," + East, "Host", "'" + East + "'", "twice")]
    [InlineData("Host=" + East + ":1," + West + "," + East + ":2", "Host", "twice")]
    [InlineData("Host=" + East + "," + West + ";Region=us-east-1", "Region", "'us-east-1'", "several endpoints", "Preferred Region")]
    [InlineData("Host=" + East + ",," + West, "Host", "empty entry")]
    [InlineData("Host=" + East + ":99999," + West, "Host", "'99999'", "port")]
    [InlineData("Host=" + East + ",example.com", "Host", "'example.com'", "Host Address")]
    [InlineData("Host=" + East + "," + West + ";Preferred Region=not a region", "PreferredRegion", "'not a region'", "Preferred Region")]
    [InlineData("Host=" + East + ";Host=" + West, "Host", "twice", "separated by commas")]
    public void A_bad_list_is_refused_naming_the_setting_and_value(string connectionString, string setting, params string[] contains)
        => Fails(connectionString, setting, contains);

    [Fact]
    public void Endpoints_of_different_clusters_are_accepted_as_a_multi_Region_cluster_has_one_id_per_Region()
    {
        var b = new DsqlConnectionStringBuilder($"Host={East},{West}");
        Assert.Equal(2, b.Hosts.Count);
    }

    [Fact]
    public void A_preferred_Region_naming_no_endpoint_is_refused_when_the_data_source_is_built()
    {
        var settings = $"Host={East},{West};Preferred Region=eu-west-1";
        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlDataSourceBuilder(settings).Build());
        Assert.Equal("PreferredRegion", e.Setting);
        Assert.Contains("Preferred Region 'eu-west-1'", e.Message, StringComparison.Ordinal);
        Assert.Contains(East + " in us-east-1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_preferred_Region_with_one_endpoint_must_be_its_own_and_changes_nothing()
    {
        using var same = new DsqlDataSourceBuilder($"Host={East};Preferred Region=us-east-1").Build();
        Assert.Equal(East, Assert.Single(same.Endpoints).Endpoint);

        var e = Assert.Throws<DsqlConfigurationException>(() => new DsqlDataSourceBuilder($"Host={East};Preferred Region=us-west-2").Build());
        Assert.Equal("PreferredRegion", e.Setting);
        Assert.Contains("only endpoint", e.Message, StringComparison.Ordinal);
        Assert.Contains("'us-west-2'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_data_source_built_from_a_list_has_one_endpoint_per_host_and_prefers_the_named_Region()
    {
        using var dataSource = new DsqlDataSourceBuilder($"Host={East},{West};Preferred Region=us-west-2").Build();
        Assert.Equal([East, West], dataSource.Endpoints.Select(e => e.Endpoint));
        Assert.Equal(["us-east-1", "us-west-2"], dataSource.Endpoints.Select(e => e.Region));
        Assert.Equal(West, dataSource.PreferredEndpoint);
        Assert.Equal(West, dataSource.Endpoint);
    }

    [Fact]
    public void Several_hosts_set_in_code_are_checked_by_Validate()
    {
        var b = new DsqlConnectionStringBuilder { Host = $"{East},{East.ToUpperInvariant()}" };
        var e = Assert.Throws<DsqlConfigurationException>(b.Validate);
        Assert.Equal("Host", e.Setting);
        Assert.Contains("twice", e.Message, StringComparison.Ordinal);
        b.Host = $"{East},{West}";
        b.Validate();
    }
}
