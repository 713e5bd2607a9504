using System.Data.Common;
using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>AddDsql(), start-up validation and the health check, against the emulator.</summary>
[Collection(BackendCollection.Name)]
public sealed class DependencyInjectionTests(BackendFixture backend)
{
    private static IConfiguration Configuration(params (string Key, string? Value)[] values)
        => new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static (string, string?)[] EmulatorSection(ConnectorHarness harness, string section = "Dsql") =>
    [
        ($"{section}:Host", harness.Endpoint.Host),
        ($"{section}:Host Address", "127.0.0.1"),
        ($"{section}:Port", harness.Endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ($"{section}:Root Certificate", harness.Endpoint.CaCertificatePath),
    ];

    private static ServiceCollection Services()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<AWSCredentials>(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret));
        return services;
    }

    [Fact]
    public async Task AddDsql_from_configuration_registers_the_data_sources_as_singletons()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var services = Services();
        services.AddDsql(Configuration(EmulatorSection(harness)));
        await using var provider = services.BuildServiceProvider(validateScopes: true);

        var dataSource = provider.GetRequiredService<DsqlDataSource>();
        Assert.Same(dataSource, provider.GetRequiredService<DbDataSource>());
        Assert.Same(dataSource.NpgsqlDataSource, provider.GetRequiredService<NpgsqlDataSource>());
        Assert.Same(dataSource, provider.GetRequiredService<DsqlDataSource>());
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, (int)(await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task AddDsql_from_code_and_from_a_connection_string()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var fromCode = Services();
        fromCode.AddDsql(options =>
        {
            options.ConnectionString = harness.ConnectionString();
            options.Settings["Maximum Pool Size"] = "3";
        });
        await using (var provider = fromCode.BuildServiceProvider())
        {
            var dataSource = provider.GetRequiredService<DsqlDataSource>();
            Assert.Equal(3, new NpgsqlConnectionStringBuilder(dataSource.NpgsqlDataSource.ConnectionString).MaxPoolSize);
            await (await dataSource.OpenConnectionAsync()).DisposeAsync();
        }
        var fromString = Services();
        fromString.AddDsql(harness.ConnectionString());
        await using (var provider = fromString.BuildServiceProvider())
            await (await provider.GetRequiredService<DsqlDataSource>().OpenConnectionAsync()).DisposeAsync();
    }

    [Fact]
    public async Task Keyed_registrations_serve_two_clusters_side_by_side()
    {
        await using var east = await ConnectorHarness.StartAsync(backend);
        await using var west = await ConnectorHarness.StartAsync(backend, region: "us-west-2");
        var services = Services();
        services.AddKeyedDsql("east", Configuration(EmulatorSection(east, "Clusters:East")), "Clusters:East");
        services.AddKeyedDsql("west", west.ConnectionString());
        await using var provider = services.BuildServiceProvider();
        var eastSource = provider.GetRequiredKeyedService<DsqlDataSource>("east");
        var westSource = provider.GetRequiredKeyedService<DsqlDataSource>("west");
        Assert.Equal("us-east-1", eastSource.Region);
        Assert.Equal("us-west-2", westSource.Region);
        Assert.Same(westSource, provider.GetRequiredKeyedService<DbDataSource>("west"));
        Assert.Null(provider.GetService<DsqlDataSource>());
        await (await eastSource.OpenConnectionAsync()).DisposeAsync();
        await (await westSource.OpenConnectionAsync()).DisposeAsync();
    }

    /// <summary>Starts a host whose only registration is <paramref name="register"/> and returns how it failed.</summary>
    private static async Task<OptionsValidationException> StartFailsAsync(IConfiguration configuration, Action<IServiceCollection, IConfiguration> register)
    {
        var builder = Host.CreateApplicationBuilder();
        register(builder.Services, configuration);
        using var host = builder.Build();
        return await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
    }

    [Fact]
    public async Task A_bad_configuration_section_is_only_bound_at_registration_and_fails_at_start_with_every_problem_and_its_path()
    {
        var configuration = Configuration(
            ("Dsql:Port", "abc"),
            ("Dsql:Maximum Pool Size", "0"),
            ("Dsql:Colour", "blue"),
            ("Dsql:Token Lifetime", "999999999"));
        var services = new ServiceCollection();
        services.AddDsql(configuration); // no work beyond recording the binding: nothing is parsed or thrown here
        var ex = await StartFailsAsync(configuration, (s, c) => s.AddDsql(c));
        Assert.Contains("Dsql:Port", ex.Message, StringComparison.Ordinal);
        Assert.Contains("abc", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Maximum Pool Size", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Colour", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Token Lifetime", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Dsql:Host", ex.Message, StringComparison.Ordinal); // and no endpoint was given at all
        Assert.Equal(5, ex.Failures.Count());
    }

    [Fact]
    public async Task A_missing_endpoint_or_section_is_named_at_start()
    {
        var ex = await StartFailsAsync(Configuration(("Dsql:Profile", "dev")), (s, c) => s.AddDsql(c));
        Assert.Contains("Dsql:Host", ex.Message, StringComparison.Ordinal);
        ex = await StartFailsAsync(Configuration(("Other:Host", "x")), (s, c) => s.AddDsql(c));
        Assert.Contains("Dsql", ex.Message, StringComparison.Ordinal);
        Assert.Contains("missing or empty", ex.Message, StringComparison.Ordinal);
        ex = await StartFailsAsync(Configuration(("Clusters:East:Host:Name", "x")), (s, c) => s.AddKeyedDsql("east", c, "Clusters:East"));
        Assert.Contains("Clusters:East:Host: expected a value, found a section", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configuration_is_read_when_the_data_source_is_built_not_when_it_is_registered()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var configuration = new ConfigurationManager();
        var services = Services();
        services.AddDsql(configuration); // the section does not exist yet
        foreach (var (key, value) in EmulatorSection(harness)) configuration[key] = value;
        await using var provider = services.BuildServiceProvider();
        var dataSource = provider.GetRequiredService<DsqlDataSource>();
        Assert.Equal(harness.Endpoint.Host, dataSource.Endpoint);
        await (await dataSource.OpenConnectionAsync()).DisposeAsync();
    }

    [Fact]
    public async Task Options_configured_in_code_are_validated_when_the_host_starts()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddDsql(options => options.Settings["Port"] = "70000");
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Port", ex.Message, StringComparison.Ordinal);
        Assert.Contains("70000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_the_container_disposes_the_data_source()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var services = Services();
        services.AddDsql(harness.ConnectionString());
        DsqlDataSource dataSource;
        await using (var provider = services.BuildServiceProvider())
        {
            dataSource = provider.GetRequiredService<DsqlDataSource>();
            await (await dataSource.OpenConnectionAsync()).DisposeAsync();
        }
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await dataSource.OpenConnectionAsync());
    }

    private static async Task<HealthReport> CheckAsync(ServiceProvider provider)
        => await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    [Fact]
    public async Task Health_check_is_healthy_when_dsql_answers()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var services = Services();
        services.AddDsql(harness.ConnectionString());
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();
        var report = await CheckAsync(provider);
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(harness.Endpoint.Host, report.Entries["dsql"].Data["endpoint"]);
    }

    [Fact]
    public async Task Health_check_names_an_authentication_failure()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<AWSCredentials>(new BasicAWSCredentials(TestTokens.AccessKeyId, "wrong-secret"));
        services.AddDsql(harness.ConnectionString("Pooling=false"));
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();
        var entry = (await CheckAsync(provider)).Entries["dsql"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("auth", entry.Data["reason"]);
        Assert.Contains("dsql:DbConnect", entry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_check_names_a_tls_failure()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var other = await backend.StartEmulatorAsync();
        var services = Services();
        services.AddDsql(harness.ConnectionString("Connect Retries=0").Replace(harness.Endpoint.CaCertificatePath, other.CaCertificatePath, StringComparison.Ordinal));
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();
        var entry = (await CheckAsync(provider)).Entries["dsql"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("tls", entry.Data["reason"]);
    }

    [Fact]
    public async Task Health_check_names_refused_connections_as_rate_limit_and_degrades_while_throttled()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var services = Services();
        services.AddDsql(harness.ConnectionString("Pooling=false;Connect Retries=1"));
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();

        harness.Emulator.Faults.RefuseNextConnections(2, "53400");
        var refused = (await CheckAsync(provider)).Entries["dsql"];
        Assert.Equal(HealthStatus.Unhealthy, refused.Status);
        Assert.Equal("rate_limit", refused.Data["reason"]);

        // Connects succeed again, but were throttled moments ago.
        var degraded = (await CheckAsync(provider)).Entries["dsql"];
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Equal("rate_limit", degraded.Data["reason"]);
    }

    [Fact]
    public async Task Health_check_names_an_unreachable_endpoint()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        int closedPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        var services = Services();
        services.AddDsql(harness.ConnectionString("Connect Retries=0;Timeout=2").Replace($"Port={harness.Endpoint.Port}", $"Port={closedPort}", StringComparison.Ordinal));
        services.AddHealthChecks().AddDsql();
        await using var provider = services.BuildServiceProvider();
        var entry = (await CheckAsync(provider)).Entries["dsql"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("network", entry.Data["reason"]);
    }
}
