using System.Net;
using System.Net.Sockets;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>An endpoint answers on both loopback addresses its certificate names, on one port.</summary>
[Collection(BackendCollection.Name)]
public sealed class EndpointAddressTests(BackendFixture backend)
{
    private static bool HasIPv6Loopback()
    {
        if (!Socket.OSSupportsIPv6) return false;
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Fact]
    public async Task The_endpoint_listens_on_IPv4_and_IPv6_loopback_on_the_same_port()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        Assert.Equal("127.0.0.1", endpoint.ListenAddresses[0]);
        if (!HasIPv6Loopback())
        {
            Assert.Equal(["127.0.0.1"], endpoint.ListenAddresses);
            return;
        }
        Assert.Equal(["127.0.0.1", "::1"], endpoint.ListenAddresses);

        foreach (var host in new[] { "127.0.0.1", "::1" })
        {
            var builder = new NpgsqlConnectionStringBuilder(endpoint.NpgsqlConnectionString("admin", TestTokens.For(emulator, endpoint))) { Host = host };
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(); // verify-full: the certificate names both addresses
            await using var command = new NpgsqlCommand("SELECT inet_client_addr() IS NULL", connection);
            Assert.True((bool)(await command.ExecuteScalarAsync())!, "the backend session is on the Unix socket");
        }
    }

    [Fact]
    public async Task A_fixed_port_taken_on_IPv6_loopback_is_reported()
    {
        if (!HasIPv6Loopback()) return;
        using var squatter = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        squatter.Listen(1);
        int port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => backend.StartEmulatorAsync(o => o.Endpoints.Add(new EmulatorEndpoint(EmulatorEndpoint.DefaultHost, port: port))));
        Assert.Contains($"[::1]:{port}", ex.Message, StringComparison.Ordinal);
    }
}
