using System.Security.Cryptography.X509Certificates;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>DSQL requires TLS; the emulator takes both negotiations and serves a certificate clients can verify fully.</summary>
[Collection(BackendCollection.Name)]
public sealed class TlsTests(BackendFixture backend)
{
    private static string ConnectionString(DsqlEmulator emulator, string negotiation, string host = "127.0.0.1")
    {
        var endpoint = emulator.Endpoints[0];
        return $"Host={host};Port={endpoint.Port};Username=admin;Password={TestTokens.For(emulator, endpoint)};Database=postgres;" +
               $"SSL Mode=VerifyFull;SSL Negotiation={negotiation};Root Certificate={endpoint.CaCertificatePath};Pooling=false";
    }

    [Theory]
    [InlineData("Direct")]
    [InlineData("Postgres")]
    public async Task Both_tls_negotiations_work_with_verify_full(string negotiation)
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = new NpgsqlConnection(ConnectionString(emulator, negotiation));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", connection);
        // The backend session itself is local (Unix socket); what matters is that the client's TLS session verified.
        Assert.Equal(false, await command.ExecuteScalarAsync());
        Assert.Equal(System.Data.ConnectionState.Open, connection.State);
    }

    [Fact]
    public async Task Certificate_verifies_for_localhost_too()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = new NpgsqlConnection(ConnectionString(emulator, "Direct", "localhost"));
        await connection.OpenAsync();
        Assert.Equal(1, await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Server_certificate_names_the_endpoint_and_chains_to_the_written_ca()
    {
        string caOut = Path.Combine(Path.GetTempPath(), EmulatorConnections.UniqueName("ca") + ".pem");
        try
        {
            await using var emulator = await backend.StartEmulatorAsync(o => o.CaCertificateOutputPath = caOut);
            Assert.Equal(emulator.CaCertificatePem, await File.ReadAllTextAsync(caOut));
            X509Certificate2? seen = null;
            var endpoint = emulator.Endpoints[0];
            var builder = new NpgsqlDataSourceBuilder(ConnectionString(emulator, "Direct").Replace("SSL Mode=VerifyFull", "SSL Mode=Require", StringComparison.Ordinal)
                .Replace($";Root Certificate={endpoint.CaCertificatePath}", "", StringComparison.Ordinal));
            builder.UseSslClientAuthenticationOptionsCallback(options => options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                seen = new X509Certificate2(certificate!);
                return true;
            });
            await using var dataSource = builder.Build();
            await using (var connection = await dataSource.OpenConnectionAsync()) { }
            Assert.NotNull(seen);
            Assert.True(seen!.MatchesHostname(endpoint.Host));
            Assert.True(seen.MatchesHostname("localhost"));
            using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(caOut));
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            Assert.True(chain.Build(seen));
        }
        finally
        {
            File.Delete(caOut);
        }
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_ca_fails_verify_full()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string connectionString = ConnectionString(emulator, "Direct").Replace($";Root Certificate={endpoint.CaCertificatePath}", "", StringComparison.Ordinal);
        await using var connection = new NpgsqlConnection(connectionString);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => connection.OpenAsync());
    }

    [Fact]
    public async Task Plaintext_is_refused_with_a_message_saying_tls_is_required()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={endpoint.Port};Username=admin;Password={TestTokens.For(emulator, endpoint)};SSL Mode=Disable;Pooling=false");
        var ex = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
        Assert.Equal("28000", ex.SqlState);
        Assert.Contains("TLS required", ex.MessageText, StringComparison.Ordinal);
    }
}
