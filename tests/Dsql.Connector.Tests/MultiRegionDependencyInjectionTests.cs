using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Dsql.Connector.Tests;

/// <summary>
/// AddDsql over the regional endpoints of a multi-Region cluster (an in-memory configuration section naming them, the
/// preferred Region and the failover options), its start-up errors, and the health check per endpoint.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class MultiRegionDependencyInjectionTests(BackendFixture backend)
{
    private const string East = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string West = "zyxwvutsrqponmlkjihgfedcba.dsql.us-west-2.on.aws";

    private static IConfiguration Configuration(params (string Key, string? Value)[] values)
        => new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static ServiceCollection Services()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<AWSCredentials>(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret));
        return services;
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task<OptionsValidationException> StartFailsAsync(IConfiguration configuration)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddDsql(configuration);
        using var host = builder.Build();
        return await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
    }

    [Fact]
    public async Task The_section_names_the_endpoints_the_preferred_Region_and_the_failover_options()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend,
            o => o.Endpoints.Add(new EmulatorEndpoint($"{ConnectorHarness.UniqueClusterId()}.dsql.us-west-2.on.aws")));
        var (east, west) = (harness.Emulator.Endpoints[0], harness.Emulator.Endpoints[1]);
        var services = Services();
        services.AddDsql(Configuration(
            ("Dsql:Endpoints:0", $"{east.Host}:{Port(east.Port)}"),
            ("Dsql:Endpoints:1", $"{west.Host}:{Port(west.Port)}"),
            ("Dsql:PreferredRegion", "us-west-2"),
            ("Dsql:Host Address", "127.0.0.1"),
            ("Dsql:Root Certificate", east.CaCertificatePath),
            ("Dsql:Failover:FailureThreshold", "4"),
            ("Dsql:Failover:ProbeInterval", "0.5"),
            ("Dsql:Failover:FailbackDelay", "00:00:30")));
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptionsMonitor<DsqlOptions>>().Get(Options.DefaultName);
        Assert.Equal(4, options.Failover.FailureThreshold);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.Failover.ProbeInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Failover.FailbackDelay);
        var dataSource = provider.GetRequiredService<DsqlDataSource>();
        Assert.Equal([east.Host, west.Host], dataSource.Endpoints.Select(e => e.Endpoint));
        Assert.Equal(west.Host, dataSource.PreferredEndpoint);
        await using (var connection = await dataSource.OpenConnectionAsync())
            Assert.Equal(1, (int)(await new Npgsql.NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync())!);

        // Both endpoints serve: Healthy, answered by the preferred one, each endpoint listed.
        var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["dsql"];
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(west.Host, entry.Data["endpoint"]);
        var endpoints = Assert.IsAssignableFrom<IReadOnlyList<IReadOnlyDictionary<string, object?>>>(entry.Data["endpoints"]);
        Assert.Equal([true, true], endpoints.Select(d => (bool)d["healthy"]!));
        Assert.Equal([false, true], endpoints.Select(d => (bool)d["active"]!));
    }

    [Fact]
    public async Task Bad_multi_Region_values_are_reported_at_start_up_by_their_keys()
    {
        var ex = await StartFailsAsync(Configuration(
            ("Dsql:ConnectionString", $"Host={East},{West}"),
            ("Dsql:PreferredRegion", "eu-west-1"),
            ("Dsql:Failover:FailureWindow", "0.5")));
        Assert.Contains("Dsql:PreferredRegion: Preferred Region 'eu-west-1' is not the Region of any endpoint", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Failover:FailureWindow: Failover.FailureWindow is 00:00:00.5000000", ex.Message, StringComparison.Ordinal);

        ex = await StartFailsAsync(Configuration(
            ("Dsql:ConnectionString", $"Host={East},{West}"),
            ("Dsql:Failover:FailureThreshold", "many"),
            ("Dsql:Failover:Colour", "blue")));
        Assert.Contains("Dsql:Failover:FailureThreshold: 'many'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Failover:Colour: not a failover option", ex.Message, StringComparison.Ordinal);

        ex = await StartFailsAsync(Configuration(("Dsql:Endpoints:0", East), ("Dsql:Endpoints:1", "abcdefghijklmnopqrstuvwxyz"), ("Dsql:Region", "us-east-1")));
        Assert.Contains("Dsql:Endpoints: Host entry 'abcdefghijklmnopqrstuvwxyz'", ex.Message, StringComparison.Ordinal);

        ex = await StartFailsAsync(Configuration(("Dsql:Endpoints:0", East), ("Dsql:Endpoints:1", West), ("Dsql:Region", "us-east-1")));
        Assert.Contains("Dsql:Region: Region 'us-east-1' is set, but Host names several endpoints", ex.Message, StringComparison.Ordinal);

        ex = await StartFailsAsync(Configuration(("Dsql:Endpoints:0", East), ("Dsql:Host", West)));
        Assert.Contains("Dsql:Endpoints: the endpoints are named both here and in Host", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_is_Degraded_while_only_the_peer_serves_and_reports_each_endpoint()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var east = harness.Endpoint;
        string dead = $"{ConnectorHarness.UniqueClusterId()}.dsql.eu-west-1.on.aws";
        var services = Services();
        services.AddDsql(Configuration(
            ("Dsql:Host", $"{dead}:{Port(ConnectorHarness.ClosedPort())},{east.Host}:{Port(east.Port)}"),
            ("Dsql:Preferred Region", "eu-west-1"),
            ("Dsql:Host Address", "127.0.0.1"),
            ("Dsql:Root Certificate", east.CaCertificatePath),
            ("Dsql:Connect Retries", "0"),
            ("Dsql:Failover:FailureThreshold", "1")));
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();

        var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["dsql"];

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal("failover", entry.Data["reason"]);
        Assert.Equal(east.Host, entry.Data["endpoint"]);
        Assert.Equal("us-east-1", entry.Data["region"]);
        Assert.Contains($"preferred DSQL endpoint {dead} (eu-west-1) is unhealthy", entry.Description, StringComparison.Ordinal);
        var endpoints = Assert.IsAssignableFrom<IReadOnlyList<IReadOnlyDictionary<string, object?>>>(entry.Data["endpoints"]);
        Assert.Collection(endpoints,
            d =>
            {
                Assert.Equal(dead, d["endpoint"]);
                Assert.Equal("eu-west-1", d["region"]);
                Assert.Equal(false, d["healthy"]);
                Assert.Equal(false, d["active"]);
                Assert.Equal(true, d["preferred"]);
                Assert.Equal("network", d["lastFailure"]);
            },
            d =>
            {
                Assert.Equal(east.Host, d["endpoint"]);
                Assert.Equal(true, d["healthy"]);
                Assert.Equal(true, d["active"]);
                Assert.Equal(false, d["preferred"]);
                Assert.Null(d["lastFailure"]);
            });
    }

    [Fact]
    public async Task Health_is_Unhealthy_when_no_endpoint_serves()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        string east = $"{ConnectorHarness.UniqueClusterId()}.dsql.us-east-1.on.aws", west = $"{ConnectorHarness.UniqueClusterId()}.dsql.us-west-2.on.aws";
        var services = Services();
        services.AddDsql($"Host={east}:{Port(ConnectorHarness.ClosedPort())},{west}:{Port(ConnectorHarness.ClosedPort())};Host Address=127.0.0.1;Connect Retries=0;Root Certificate={harness.Endpoint.CaCertificatePath}");
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();

        var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["dsql"];

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("network", entry.Data["reason"]);
        Assert.Contains("No endpoint of the multi-Region cluster serves", entry.Description, StringComparison.Ordinal);
        var endpoints = Assert.IsAssignableFrom<IReadOnlyList<IReadOnlyDictionary<string, object?>>>(entry.Data["endpoints"]);
        Assert.Equal([east, west], endpoints.Select(d => d["endpoint"]));
        Assert.All(endpoints, d => Assert.Equal("network", d["lastFailure"]));
    }
}
