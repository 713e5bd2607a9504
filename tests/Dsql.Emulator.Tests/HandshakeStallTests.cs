using System.Diagnostics;
using Dsql.Emulator.Tests.Infrastructure;

namespace Dsql.Emulator.Tests;

/// <summary>
/// <see cref="EmulatorFaults.StallHandshakes"/>: each phase stops answering exactly where it says, the stalled
/// connection is closed once the stall is lifted, and new connections work again.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class HandshakeStallTests(BackendFixture backend)
{
    /// <summary>How long a test waits to be sure nothing comes (the emulator answers a healthy step in milliseconds).</summary>
    private static readonly TimeSpan Silence = TimeSpan.FromMilliseconds(1500);

    [Fact]
    public async Task AfterAccept_answers_nothing_not_even_an_SSLRequest()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        emulator.Faults.StallHandshakes(HandshakeStall.AfterAccept);
        Assert.Equal(HandshakeStall.AfterAccept, emulator.Faults.HandshakeStall);
        await using var client = await RawPgClient.ConnectAsync(endpoint);
        var answer = client.SendSslRequestAsync();
        Assert.NotSame(answer, await Task.WhenAny(answer, Task.Delay(Silence)));
        await ResumeAndExpectCloseThenAWorkingConnectionAsync(emulator, client);
    }

    [Fact]
    public async Task DuringTls_answers_the_SSLRequest_and_leaves_the_tls_handshake_unfinished()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        emulator.Faults.StallHandshakes(HandshakeStall.DuringTls);
        await using var client = await RawPgClient.ConnectAsync(endpoint);
        var started = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.StartTlsAsync(endpoint, Silence));
        Assert.True(started.Elapsed >= Silence - TimeSpan.FromMilliseconds(100), $"the handshake ended after {started.Elapsed}, before the client gave up");
        emulator.Faults.ResumeHandshakes();
        await using var after = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, emulator.OpenSessionCount);
    }

    [Fact]
    public async Task AfterPassword_reads_the_token_and_never_answers_it()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        emulator.Faults.StallHandshakes(HandshakeStall.AfterPassword);
        await using var client = await StartupAsync(endpoint);
        var request = await client.ReadMessageAsync();
        Assert.Equal('R', request!.Type);
        Assert.Equal(3, request.ReadInt32()); // cleartext password asked for
        await client.SendPasswordAsync(TestTokens.For(emulator, endpoint));
        await Assert.ThrowsAsync<TimeoutException>(() => client.ReadMessageAsync(Silence));
        Assert.Equal(0, emulator.OpenSessionCount);
        await ResumeAndExpectCloseThenAWorkingConnectionAsync(emulator, client);
    }

    [Fact]
    public async Task MidStartup_sends_AuthenticationOk_and_parameters_but_never_ReadyForQuery()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        emulator.Faults.StallHandshakes(HandshakeStall.MidStartup);
        await using var client = await StartupAsync(endpoint);
        Assert.Equal('R', (await client.ReadMessageAsync())!.Type);
        await client.SendPasswordAsync(TestTokens.For(emulator, endpoint));
        var ok = await client.ReadMessageAsync();
        Assert.Equal('R', ok!.Type);
        Assert.Equal(0, ok.ReadInt32()); // AuthenticationOk
        var types = new List<char>();
        while (true)
        {
            RawPgMessage? message;
            try
            {
                message = await client.ReadMessageAsync(Silence);
            }
            catch (TimeoutException)
            {
                break;
            }
            Assert.NotNull(message);
            types.Add(message.Type);
        }
        Assert.Contains('S', types); // parameter statuses arrived
        Assert.DoesNotContain('K', types);
        Assert.DoesNotContain('Z', types);
        await ResumeAndExpectCloseThenAWorkingConnectionAsync(emulator, client);
    }

    [Fact]
    public async Task A_stall_ends_at_the_handshake_timeout_and_None_lifts_it()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
        emulator.Faults.StallHandshakes(HandshakeStall.AfterAccept);
        await using var client = await RawPgClient.ConnectAsync(emulator.Endpoints[0]);
        _ = client.SendSslRequestAsync();
        Assert.NotNull(await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        emulator.Faults.StallHandshakes(HandshakeStall.None);
        Assert.Equal(HandshakeStall.None, emulator.Faults.HandshakeStall);
        await using var after = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, emulator.OpenSessionCount);
    }

    [Fact]
    public async Task An_unknown_phase_is_refused()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        Assert.Throws<ArgumentOutOfRangeException>(() => emulator.Faults.StallHandshakes((HandshakeStall)42));
    }

    private static async Task<RawPgClient> StartupAsync(EmulatorEndpointInfo endpoint)
    {
        var client = await RawPgClient.ConnectAsync(endpoint);
        await client.StartTlsAsync(endpoint);
        await client.SendStartupAsync(("user", "admin"), ("database", "postgres"));
        return client;
    }

    private static async Task ResumeAndExpectCloseThenAWorkingConnectionAsync(DsqlEmulator emulator, RawPgClient stalled)
    {
        emulator.Faults.ResumeHandshakes();
        Assert.NotNull(await stalled.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
        await using var after = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, emulator.OpenSessionCount);
    }
}
