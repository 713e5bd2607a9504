using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>A TLS failure says which host name was checked, which trust source was used and what to change.</summary>
[Collection(BackendCollection.Name)]
public sealed class TlsErrorTests(BackendFixture backend)
{
    private static DsqlDataSource Build(string connectionString)
        => new DsqlDataSourceBuilder(connectionString + ";Connect Retries=0")
            .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret)).Build();

    [Fact]
    public async Task Without_a_Root_Certificate_the_message_names_the_system_store_and_the_setting()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = Build($"Host={harness.Endpoint.Host};Host Address=127.0.0.1;Port={harness.Endpoint.Port}");
        var ex = await Assert.ThrowsAsync<DsqlTlsException>(async () => await dataSource.OpenConnectionAsync());
        Assert.Equal(harness.Endpoint.Host, ex.HostChecked);
        Assert.Null(ex.RootCertificate);
        Assert.Contains($"'{harness.Endpoint.Host}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("system certificate store", ex.Message, StringComparison.Ordinal);
        Assert.Contains("set Root Certificate", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NpgsqlException>(ex.InnerException);

        // The synchronous open says the same.
        var sync = Assert.Throws<DsqlTlsException>(() => dataSource.OpenConnection());
        Assert.Equal(ex.Message, sync.Message);
    }

    [Fact]
    public async Task A_host_the_certificate_does_not_name_is_reported_with_Host_Address_and_Region_advice()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        // The same cluster id in another Region: the emulator's certificate does not carry that name.
        string wrongHost = harness.Endpoint.Host.Replace(".us-east-1.", ".eu-west-1.", StringComparison.Ordinal);
        await using var dataSource = Build($"Host={wrongHost};Host Address=127.0.0.1;Port={harness.Endpoint.Port};Root Certificate={harness.Endpoint.CaCertificatePath}");
        var ex = await Assert.ThrowsAsync<DsqlTlsException>(async () => await dataSource.OpenConnectionAsync());
        Assert.Equal(wrongHost, ex.HostChecked);
        Assert.Equal(harness.Endpoint.CaCertificatePath, ex.RootCertificate);
        Assert.Contains($"the name checked was '{wrongHost}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(harness.Endpoint.CaCertificatePath, ex.Message, StringComparison.Ordinal);
        Assert.Contains("Host Address", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Region (eu-west-1)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_CA_in_Root_Certificate_is_named_with_its_file()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var other = await backend.StartEmulatorAsync(); // another emulator: another CA
        await using var dataSource = Build($"Host={harness.Endpoint.Host};Host Address=127.0.0.1;Port={harness.Endpoint.Port};Root Certificate={other.CaCertificatePath}");
        var ex = await Assert.ThrowsAsync<DsqlTlsException>(async () => await dataSource.OpenConnectionAsync());
        Assert.Equal(other.CaCertificatePath, ex.RootCertificate);
        Assert.Contains($"the Root Certificate file '{other.CaCertificatePath}'", ex.Message, StringComparison.Ordinal);
        Assert.Equal($"the Root Certificate file '{other.CaCertificatePath}'", ex.TrustSource);
    }

    [Fact]
    public async Task The_health_check_reports_tls_with_the_same_advice()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = Build($"Host={harness.Endpoint.Host};Host Address=127.0.0.1;Port={harness.Endpoint.Port}");
        var check = new DsqlHealthCheck(dataSource, TimeSpan.FromSeconds(10));
        var result = await check.CheckHealthAsync(new HealthCheckContext { Registration = new HealthCheckRegistration("dsql", check, HealthStatus.Unhealthy, null) });
        Assert.Equal("tls", result.Data["reason"]);
        Assert.Contains("system certificate store", result.Description, StringComparison.Ordinal);
    }
}
