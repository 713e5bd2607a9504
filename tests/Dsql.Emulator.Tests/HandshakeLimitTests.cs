using System.Buffers.Binary;
using System.Diagnostics;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// Connections that never finish their handshake: they must not take open-connection slots from valid clients, their
/// number is bounded, and GSS-encryption negotiation cannot be repeated forever.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class HandshakeLimitTests(BackendFixture backend)
{
    private const int GssEncRequestCode = 80877104;

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "condition not reached within 10 s");
            await Task.Delay(20);
        }
    }

    private static async Task<List<RawPgClient>> SilentClientsAsync(DsqlEmulator emulator, int count)
    {
        var clients = new List<RawPgClient>();
        for (int i = 0; i < count; i++) clients.Add(await RawPgClient.ConnectAsync(emulator.Endpoints[0]));
        return clients;
    }

    [Fact]
    public async Task Silent_clients_do_not_take_open_connection_slots()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxConnections = 2);
        var silent = await SilentClientsAsync(emulator, 5);
        // Some silent clients go as far as TLS and the startup packet, then stop before the token.
        foreach (var client in silent.Take(2))
        {
            await client.StartTlsAsync(emulator.Endpoints[0]);
            await client.SendStartupAsync(("user", "admin"), ("database", "postgres"));
            var request = await client.ReadMessageAsync();
            Assert.Equal('R', request!.Type);
        }
        await WaitUntilAsync(() => emulator.TrackedSessionCount == 5);
        try
        {
            await using var first = await EmulatorConnections.OpenAsync(emulator);
            await using var second = await EmulatorConnections.OpenAsync(emulator);
            Assert.Equal(1, Convert.ToInt32(await new NpgsqlCommand("SELECT 1", second).ExecuteScalarAsync()));
            // Authenticated connections still count against the limit.
            var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator));
            Assert.Equal("53300", ex.SqlState);
        }
        finally
        {
            foreach (var client in silent) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task Handshakes_beyond_the_pending_limit_are_refused_at_once_and_the_slot_comes_back()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxPendingHandshakes = 3);
        var silent = await SilentClientsAsync(emulator, 3);
        // A session is tracked at accept and counted as pending a moment later: wait for the count itself, or the
        // extra client could take a slot a silent one has not claimed yet (and wait out the handshake timeout).
        await WaitUntilAsync(() => emulator.PendingHandshakeCount == 3);
        try
        {
            await using (var extra = await RawPgClient.ConnectAsync(emulator.Endpoints[0]))
            {
                var error = await extra.ExpectErrorAsync();
                Assert.Equal("53300", error['C']);
                Assert.Equal("FATAL", error['S']);
                Assert.NotNull(await extra.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
            }
            // Npgsql reads the answer to its SSLRequest: the refusal arrives in its place.
            var ex = await Assert.ThrowsAnyAsync<NpgsqlException>(() => EmulatorConnections.OpenAsync(emulator));
            if (ex is PostgresException pg) Assert.Equal("53300", pg.SqlState);
        }
        finally
        {
            foreach (var client in silent) await client.DisposeAsync();
        }
        await WaitUntilAsync(() => emulator.TrackedSessionCount == 0);
        await using var valid = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, Convert.ToInt32(await new NpgsqlCommand("SELECT 1", valid).ExecuteScalarAsync()));
    }

    private static byte[] GssEncRequest()
    {
        var request = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(request, 8);
        BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(4), GssEncRequestCode);
        return request;
    }

    [Fact]
    public async Task One_GSSENCRequest_is_declined_and_TLS_follows()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var client = await RawPgClient.ConnectAsync(emulator.Endpoints[0]);
        await client.SendRawAsync(GssEncRequest());
        var answer = new byte[1];
        Assert.Equal(1, await client.Stream.ReadAsync(answer));
        Assert.Equal((byte)'N', answer[0]);
        await client.StartTlsAsync(emulator.Endpoints[0]);
        await client.SendStartupAsync(("user", "admin"), ("database", "postgres"));
        await client.AuthenticateAsync(TestTokens.For(emulator, emulator.Endpoints[0]));
    }

    [Fact]
    public async Task A_second_GSSENCRequest_ends_the_connection()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var client = await RawPgClient.ConnectAsync(emulator.Endpoints[0]);
        await client.SendRawAsync(GssEncRequest());
        var answer = new byte[1];
        Assert.Equal(1, await client.Stream.ReadAsync(answer));
        Assert.Equal((byte)'N', answer[0]);
        await client.SendRawAsync(GssEncRequest());
        var error = await client.ExpectErrorAsync();
        Assert.Equal("08P01", error['C']);
        Assert.Contains("GSSENCRequest", error['M'], StringComparison.Ordinal);
        Assert.NotNull(await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }
}
