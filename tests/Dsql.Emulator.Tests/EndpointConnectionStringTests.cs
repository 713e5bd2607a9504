using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>The connection strings an endpoint hands out, for Npgsql, Dsql.Connector and libpq, with awkward paths.</summary>
public sealed class EndpointConnectionStringTests
{
    private static readonly EmulatorEndpointInfo Endpoint =
        new("abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws", "eu-west-1", 41234, "/tmp/dsql emulator/it's;here/ca.pem", ["127.0.0.1", "::1"]);

    [Fact]
    public void Connector_string_names_the_endpoint_the_loopback_address_the_region_and_the_ca()
    {
        Assert.Equal(
            "Host=abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws;Host Address=127.0.0.1;Port=41234;Region=eu-west-1;Root Certificate=\"/tmp/dsql emulator/it's;here/ca.pem\"",
            Endpoint.ConnectorConnectionString());
        Assert.EndsWith(";Username=app", Endpoint.ConnectorConnectionString("app"));
    }

    [Fact]
    public void Npgsql_reads_back_a_quoted_ca_path_and_the_token()
    {
        const string token = "abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws/?Action=DbConnectAdmin&X-Amz-Signature=00";
        var builder = new NpgsqlConnectionStringBuilder(Endpoint.NpgsqlConnectionString("admin", token));
        Assert.Equal("/tmp/dsql emulator/it's;here/ca.pem", builder.RootCertificate);
        Assert.Equal(token, builder.Password);
        Assert.Equal(SslMode.VerifyFull, builder.SslMode);
        Assert.Equal(41234, builder.Port);
    }

    [Fact]
    public void Libpq_string_verifies_the_endpoint_name_and_quotes_the_ca_path()
    {
        Assert.Equal(
            "host=abcdefghijklmnopqrstuvwxyz.dsql.eu-west-1.on.aws hostaddr=127.0.0.1 port=41234 user=admin dbname=postgres sslmode=verify-full sslrootcert='/tmp/dsql emulator/it\\'s;here/ca.pem'",
            Endpoint.LibpqConnectionString());
    }
}
