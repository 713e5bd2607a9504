using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Dsql.Connector.Tests;

/// <summary>
/// The samples of docs/multi-region.md work as written: each C# block appears in this file, where it runs (building
/// a data source connects nowhere, so the documented AWS names are used as they are), and the JSON block is the
/// configuration the AddDsql sample binds.
/// </summary>
public sealed partial class MultiRegionDocsTests
{
    private const string East = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string EastTwo = "zyxwvutsrqponmlkjihgfedcba.dsql.us-east-2.on.aws";

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "docs", "multi-region.md"))) return directory.FullName;
        throw new InvalidOperationException("docs/multi-region.md not found above " + AppContext.BaseDirectory);
    }

    private static IReadOnlyList<string> Blocks(string language)
        => FencedBlock().Matches(File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "multi-region.md")))
            .Where(m => m.Groups[1].Value == language).Select(m => m.Groups[2].Value).ToList();

    private static string Collapse(string code) => Whitespace().Replace(code, " ").Trim();

    [GeneratedRegex(@"```(\w+)\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex FencedBlock();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [Fact]
    public void Every_csharp_sample_of_the_document_is_run_by_this_file()
    {
        string self = Collapse(File.ReadAllText(Path.Combine(RepositoryRoot(), "tests", "Dsql.Connector.Tests", "MultiRegionDocsTests.cs")));
        var samples = Blocks("csharp");
        Assert.Equal(3, samples.Count);
        foreach (var sample in samples) Assert.Contains(Collapse(sample), self, StringComparison.Ordinal);
        Assert.Single(Blocks("json"));
    }

    [Fact]
    public async Task The_builder_sample_makes_a_data_source_over_both_endpoints()
    {
        await using var dataSource = new DsqlDataSourceBuilder("Host=abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws")
            .AddEndpoint("zyxwvutsrqponmlkjihgfedcba.dsql.us-east-2.on.aws")
            .PreferRegion("us-east-1")
            .ConfigureFailover(failover => failover.FailureThreshold = 3)
            .Build();

        Assert.Equal([(East, "us-east-1"), (EastTwo, "us-east-2")], dataSource.Endpoints.Select(e => (e.Endpoint, e.Region)));
        Assert.Equal(East, dataSource.PreferredEndpoint);
    }

    [Fact]
    public async Task The_connection_string_sample_makes_a_data_source_over_both_endpoints()
    {
        await using var dataSource = DsqlDataSource.Create(
            "Host=abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws,zyxwvutsrqponmlkjihgfedcba.dsql.us-east-2.on.aws;Preferred Region=us-east-2");

        Assert.Equal([East, EastTwo], dataSource.Endpoints.Select(e => e.Endpoint));
        Assert.Equal(EastTwo, dataSource.PreferredEndpoint);
        Assert.Equal(EastTwo, dataSource.Endpoint);
    }

    [Fact]
    public async Task The_configuration_sample_binds_the_endpoints_the_preferred_Region_and_the_failover_options()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(Blocks("json")[0])));

        builder.Services.AddDsql(builder.Configuration);
        builder.Services.AddHealthChecks().AddDsql();

        using var host = builder.Build();
        await host.StartAsync(); // start-up validation passes
        var options = host.Services.GetRequiredService<IOptions<DsqlOptions>>().Value;
        Assert.Equal(3, options.Failover.FailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Failover.FailbackDelay);
        var dataSource = host.Services.GetRequiredService<DsqlDataSource>();
        Assert.Equal([East, EastTwo], dataSource.Endpoints.Select(e => e.Endpoint));
        Assert.Equal(East, dataSource.PreferredEndpoint);
        Assert.NotNull(host.Services.GetRequiredService<HealthCheckService>());
        await host.StopAsync();
    }
}
