using System.Buffers.Binary;
using System.Collections;
using System.Text;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// Hostile and broken clients, spoken by hand on raw sockets: each bad session must end with a clear error where
/// the protocol allows one (or a closed connection where it does not), leave nothing behind in the emulator or on
/// the backend, and not disturb the emulator's service to everyone else.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class BadInputTests(BackendFixture backend)
{
    /// <summary>Bound on waits for asynchronous clean-up (polled, never asserted as a duration).</summary>
    private static readonly TimeSpan LeakWait = TimeSpan.FromSeconds(5);

    /// <summary>Bound on waits for the emulator to close a connection it refused.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(15);

    // ------------------------------------------------------------------ 1. plaintext

    [Fact]
    public async Task BadInput_plaintext_startup_is_refused_with_tls_required()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string app = EmulatorConnections.UniqueName("bad_plain");
        await using (var client = await RawPgClient.ConnectAsync(emulator.Endpoints[0]))
        {
            await client.SendStartupAsync(("user", "admin"), ("database", "postgres"), ("application_name", app));
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "28000", "TLS");
            Assert.Contains("required", error['M'], StringComparison.OrdinalIgnoreCase);
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 2. garbage instead of anything

    [Fact]
    public async Task BadInput_http_request_gets_protocol_violation_or_close()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using (var client = await RawPgClient.ConnectAsync(emulator.Endpoints[0]))
        {
            await client.SendRawAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());
            RawPgMessage? answer = null;
            try
            {
                answer = await client.ReadMessageAsync();
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or EndOfStreamException)
            {
                // A reset instead of an answer is allowed: garbage gets no protocol.
            }
            if (answer is not null)
            {
                Assert.Equal('E', answer.Type);
                var error = answer.ErrorFields();
                AssertFatal(error, "08P01", "invalid startup packet");
            }
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 3. garbage after 'S'

    [Fact]
    public async Task BadInput_garbage_instead_of_client_hello_after_ssl_request_closes()
    {
        // A short handshake timeout bounds the case where the garbage reads as the start of a longer TLS record.
        await using var emulator = await backend.StartEmulatorAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(5));
        var garbage = new byte[512];
        new Random(20240601).NextBytes(garbage);
        await using (var client = await RawPgClient.ConnectAsync(emulator.Endpoints[0]))
        {
            Assert.Equal('S', await client.SendSslRequestAsync());
            await client.SendRawAsync(garbage);
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 4. direct TLS garbage

    public static TheoryData<string, byte[]> DirectTlsGarbage()
    {
        var junk = new byte[32];
        new Random(7).NextBytes(junk);
        // A complete handshake record (type 0x16, TLS 1.2, 32 bytes) whose content is no ClientHello.
        var record = new byte[] { 0x16, 0x03, 0x03, 0x00, (byte)junk.Length }.Concat(junk).ToArray();
        // The direct-TLS first byte, then text that is no record header at all.
        var text = new byte[] { 0x16 }.Concat("this is not TLS at all\r\n"u8.ToArray()).ToArray();
        return new TheoryData<string, byte[]> { { "junk handshake record", record }, { "0x16 then text", text } };
    }

    [Theory]
    [MemberData(nameof(DirectTlsGarbage))]
    public async Task BadInput_direct_tls_garbage_record_closes(string description, byte[] bytes)
    {
        _ = description;
        await using var emulator = await backend.StartEmulatorAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(5));
        await using (var client = await RawPgClient.ConnectAsync(emulator.Endpoints[0]))
        {
            await client.SendRawAsync(bytes);
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 5. oversized startup inside TLS

    [Theory]
    [InlineData(20_000, false)]
    [InlineData(20_000, true)]
    [InlineData(1_000_000_000, false)]
    [InlineData(1_000_000_000, true)]
    public async Task BadInput_oversized_startup_packet_is_refused_naming_its_length(int length, bool directTls)
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using (var client = await ConnectTlsAsync(emulator, directTls))
        {
            // Only the header and a little of the promised body: the length alone must be enough to refuse.
            var head = new byte[64];
            BinaryPrimitives.WriteInt32BigEndian(head, length);
            BinaryPrimitives.WriteInt32BigEndian(head.AsSpan(4), RawPgClient.Protocol30);
            Encoding.ASCII.GetBytes("user\0admin\0").CopyTo(head, 8);
            await client.SendRawAsync(head);
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "08P01", "startup packet");
            Assert.Contains(length.ToString(System.Globalization.CultureInfo.InvariantCulture), error['M'], StringComparison.Ordinal);
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 6. malformed startup inside TLS

    [Fact]
    public async Task BadInput_startup_parameters_not_terminated_are_refused()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string app = EmulatorConnections.UniqueName("bad_layout");
        await using (var client = await ConnectTlsAsync(emulator, directTls: true))
        {
            // name/value pairs with neither the value's terminator nor the closing zero byte
            var payload = Encoding.UTF8.GetBytes($"user\0admin\0database\0postgres\0application_name\0{app}");
            await client.SendRawAsync(RawPgClient.UntypedPacket(RawPgClient.Protocol30, payload));
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "08P01", "startup packet");
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 7. protocol version

    [Theory]
    [InlineData(2, 0)]
    [InlineData(4, 0)]
    [InlineData(1234, 5679)] // an SSLRequest repeated inside TLS
    public async Task BadInput_unsupported_protocol_version_is_refused(int major, int minor)
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string app = EmulatorConnections.UniqueName("bad_version");
        await using (var client = await ConnectTlsAsync(emulator, directTls: false))
        {
            await client.SendRawAsync(RawPgClient.StartupPacket((major << 16) | minor, ("user", "admin"), ("application_name", app)));
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "0A000", "unsupported frontend protocol");
            Assert.Contains($"{major}.{minor}", error['M'], StringComparison.Ordinal);
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 8. no user

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BadInput_startup_without_user_is_refused(bool emptyUser)
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string app = EmulatorConnections.UniqueName("bad_nouser");
        await using (var client = await ConnectTlsAsync(emulator, directTls: true))
        {
            if (emptyUser) await client.SendStartupAsync(("user", ""), ("database", "postgres"), ("application_name", app));
            else await client.SendStartupAsync(("database", "postgres"), ("application_name", app));
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "28000", "no PostgreSQL user name");
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 9. wrong database

    [Fact]
    public async Task BadInput_unknown_database_is_refused()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string app = EmulatorConnections.UniqueName("bad_db");
        await using (var client = await ConnectTlsAsync(emulator, directTls: true))
        {
            await client.SendStartupAsync(("user", "admin"), ("database", "x"), ("application_name", app));
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "3D000", "database \"x\" does not exist");
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 10. bad password message

    [Fact]
    public async Task BadInput_non_password_message_in_place_of_the_token_is_refused()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string app = EmulatorConnections.UniqueName("bad_pwtype");
        await using (var client = await StartupOverTlsAsync(emulator, app))
        {
            await client.SendQueryAsync("SELECT 1");
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "08P01", "password message");
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    [Fact]
    public async Task BadInput_huge_password_message_is_refused()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string app = EmulatorConnections.UniqueName("bad_pwhuge");
        await using (var client = await StartupOverTlsAsync(emulator, app))
        {
            var token = new byte[70 * 1024];
            token.AsSpan().Fill((byte)'a');
            token[^1] = 0;
            await client.SendMessageAsync('p', token);
            var error = await client.ExpectErrorAsync();
            AssertFatal(error, "08P01", "password message");
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    [Fact]
    public async Task BadInput_password_message_declaring_a_huge_length_is_refused_from_its_header()
    {
        // A client that announces a 16 MiB password message must be refused on the length word, as PostgreSQL
        // does; the emulator must neither wait for nor buffer a body it will refuse anyway.
        await using var emulator = await backend.StartEmulatorAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(30));
        string app = EmulatorConnections.UniqueName("bad_pwlen");
        await using (var client = await StartupOverTlsAsync(emulator, app))
        {
            var header = new byte[5 + 16];
            header[0] = (byte)'p';
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), 16 * 1024 * 1024);
            await client.SendRawAsync(header);
            var error = await client.ExpectErrorAsync(TimeSpan.FromSeconds(10));
            AssertFatal(error, "08P01", "password message");
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 11. client vanishes mid-handshake

    public enum HandshakeStage
    {
        AfterTcpConnect,
        InsideTlsHandshake,
        AfterTls,
        InsidePartialStartup,
        AfterStartupBeforePassword,
        InsidePartialPassword,
    }

    [Theory]
    [InlineData(HandshakeStage.AfterTcpConnect, true)]
    [InlineData(HandshakeStage.InsideTlsHandshake, true)]
    [InlineData(HandshakeStage.AfterTls, true)]
    [InlineData(HandshakeStage.AfterTls, false)]
    [InlineData(HandshakeStage.InsidePartialStartup, true)]
    [InlineData(HandshakeStage.AfterStartupBeforePassword, true)]
    [InlineData(HandshakeStage.AfterStartupBeforePassword, false)]
    [InlineData(HandshakeStage.InsidePartialPassword, true)]
    public async Task BadInput_client_vanishing_mid_handshake_leaks_nothing(HandshakeStage stage, bool reset)
    {
        // A long handshake timeout: the clean-up must come from noticing the client left, not from the timeout.
        await using var emulator = await backend.StartEmulatorAsync(o => o.HandshakeTimeout = TimeSpan.FromMinutes(2));
        var endpoint = emulator.Endpoints[0];
        string app = EmulatorConnections.UniqueName("bad_vanish");
        var client = await RawPgClient.ConnectAsync(endpoint);
        try
        {
            switch (stage)
            {
                case HandshakeStage.AfterTcpConnect:
                    break;
                case HandshakeStage.InsideTlsHandshake:
                    Assert.Equal('S', await client.SendSslRequestAsync());
                    await client.SendRawAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 }); // a ClientHello record cut short
                    break;
                case HandshakeStage.AfterTls:
                    await client.StartDirectTlsAsync(endpoint);
                    break;
                case HandshakeStage.InsidePartialStartup:
                    await client.StartTlsAsync(endpoint);
                    await client.SendRawAsync(RawPgClient.StartupPacket(RawPgClient.Protocol30, ("user", "admin"), ("application_name", app))[..12]);
                    break;
                case HandshakeStage.AfterStartupBeforePassword:
                case HandshakeStage.InsidePartialPassword:
                    await client.StartDirectTlsAsync(endpoint);
                    await client.SendStartupAsync(("user", "admin"), ("database", "postgres"), ("application_name", app));
                    var request = await client.ReadMessageAsync();
                    Assert.True(request is { Type: 'R' } && request.ReadInt32() == 3, $"expected AuthenticationCleartextPassword, got {request}");
                    if (stage == HandshakeStage.InsidePartialPassword)
                    {
                        var password = RawPgClient.Message('p', RawPgClient.CString(TestTokens.For(emulator, endpoint)));
                        await client.SendRawAsync(password[..(password.Length / 2)]);
                    }
                    break;
            }
        }
        finally
        {
            if (reset) client.Abort();
            await client.DisposeAsync();
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 12. client vanishes mid-query

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BadInput_client_vanishing_mid_query_ends_its_backend_session(bool reset)
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string app = EmulatorConnections.UniqueName("bad_midquery");
        var client = await RawPgClient.ConnectAsync(endpoint);
        try
        {
            await client.StartDirectTlsAsync(endpoint);
            await client.SendStartupAsync(("user", "admin"), ("database", "postgres"), ("application_name", app));
            await client.AuthenticateAsync(TestTokens.For(emulator, endpoint));
            Assert.Equal(1, emulator.OpenSessionCount);
            await client.SendQueryAsync("SELECT pg_sleep(30)");
            bool running = await EventuallyAsync(async () => await CountBackendSessionsAsync(app, "AND state = 'active' AND query LIKE 'SELECT pg_sleep%'") == 1, LeakWait);
            Assert.True(running, "the statement never started on the backend");
        }
        finally
        {
            if (reset) client.Abort();
            await client.DisposeAsync();
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 13. handshake timeout

    public enum SilentStage
    {
        Nothing,
        AfterSslRequest,
        AfterTls,
        AfterStartup,
    }

    [Theory]
    [InlineData(SilentStage.Nothing)]
    [InlineData(SilentStage.AfterSslRequest)]
    [InlineData(SilentStage.AfterTls)]
    [InlineData(SilentStage.AfterStartup)]
    public async Task BadInput_silent_client_is_closed_by_the_handshake_timeout(SilentStage stage)
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
        var endpoint = emulator.Endpoints[0];
        string app = EmulatorConnections.UniqueName("bad_silent");
        await using (var client = await RawPgClient.ConnectAsync(endpoint))
        {
            switch (stage)
            {
                case SilentStage.AfterSslRequest:
                    Assert.Equal('S', await client.SendSslRequestAsync());
                    break;
                case SilentStage.AfterTls:
                    await client.StartDirectTlsAsync(endpoint);
                    break;
                case SilentStage.AfterStartup:
                    await client.StartDirectTlsAsync(endpoint);
                    await client.SendStartupAsync(("user", "admin"), ("database", "postgres"), ("application_name", app));
                    var request = await client.ReadMessageAsync();
                    Assert.True(request is { Type: 'R' } && request.ReadInt32() == 3, $"expected AuthenticationCleartextPassword, got {request}");
                    break;
            }
            Assert.NotNull(await client.WaitForCloseAsync(CloseWait));
        }
        await AssertNoLeaksAsync(emulator, app);
        await AssertStillServingAsync(emulator);
    }

    // ------------------------------------------------------------------ 14. many bad sessions at once

    [Fact]
    public async Task BadInput_many_bad_sessions_at_once_do_not_disturb_a_good_one()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(5));
        var endpoint = emulator.Endpoints[0];
        string goodApp = EmulatorConnections.UniqueName("good_busy");
        string badApp = EmulatorConnections.UniqueName("bad_crowd");

        await using (var good = await EmulatorConnections.OpenAsync(emulator, extra: "Application Name=" + goodApp))
        {
            using var stop = new CancellationTokenSource();
            var goodLoop = Task.Run(async () =>
            {
                int queries = 0;
                while (!stop.IsCancellationRequested || queries == 0)
                {
                    await using var command = new NpgsqlCommand("SELECT 1", good);
                    Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
                    queries++;
                }
                return queries;
            });

            var bad = Enumerable.Range(0, 50).Select(i => Task.Run(() => OneBadSessionAsync(emulator, i % 5, badApp))).ToArray();
            var outcomes = await Task.WhenAll(bad);
            stop.Cancel();
            int goodQueries = await goodLoop;

            Assert.All(outcomes, outcome => Assert.True(outcome.Closed, outcome.Description));
            Assert.True(goodQueries > 0);
            await using var last = new NpgsqlCommand("SELECT 1", good);
            Assert.Equal(1, (int)(await last.ExecuteScalarAsync())!);
        }
        await AssertNoLeaksAsync(emulator, goodApp, badApp);
        await AssertStillServingAsync(emulator);
    }

    private async Task<(bool Closed, string Description)> OneBadSessionAsync(DsqlEmulator emulator, int kind, string app)
    {
        var endpoint = emulator.Endpoints[0];
        await using var client = await RawPgClient.ConnectAsync(endpoint);
        string what;
        switch (kind)
        {
            case 0:
                what = "HTTP request";
                await client.SendRawAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray());
                break;
            case 1:
                what = "plaintext startup";
                await client.SendStartupAsync(("user", "admin"), ("application_name", app));
                break;
            case 2:
                what = "garbage after SSLRequest";
                if (await client.SendSslRequestAsync() != 'S') return (false, "SSLRequest not answered with 'S'");
                await client.SendRawAsync("\u0001\u0002garbage, not a ClientHello\r\n"u8.ToArray());
                break;
            case 3:
                what = "0x16 then junk";
                await client.SendRawAsync(new byte[] { 0x16, 0x03, 0x03, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef });
                break;
            default:
                what = "wrong database over TLS";
                await client.StartDirectTlsAsync(endpoint);
                await client.SendStartupAsync(("user", "admin"), ("database", "nope"), ("application_name", app));
                break;
        }
        string? ended = await client.WaitForCloseAsync(CloseWait);
        return (ended is not null, $"{what}: {(ended is null ? "still open after " + CloseWait.TotalSeconds + " s" : "closed (" + ended + ")")}");
    }

    // ------------------------------------------------------------------ helpers

    private static async Task<RawPgClient> ConnectTlsAsync(DsqlEmulator emulator, bool directTls)
    {
        var endpoint = emulator.Endpoints[0];
        var client = await RawPgClient.ConnectAsync(endpoint);
        try
        {
            if (directTls) await client.StartDirectTlsAsync(endpoint);
            else await client.StartTlsAsync(endpoint);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>TLS and a valid startup packet, up to the emulator's request for the token.</summary>
    private static async Task<RawPgClient> StartupOverTlsAsync(DsqlEmulator emulator, string app)
    {
        var client = await ConnectTlsAsync(emulator, directTls: true);
        try
        {
            await client.SendStartupAsync(("user", "admin"), ("database", "postgres"), ("application_name", app));
            var request = await client.ReadMessageAsync();
            Assert.True(request is { Type: 'R' } && request.ReadInt32() == 3, $"expected AuthenticationCleartextPassword, got {request?.ToString() ?? "a closed connection"}");
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private static void AssertFatal(IReadOnlyDictionary<char, string> error, string sqlState, string phrase)
    {
        string all = string.Join(", ", error.Select(f => $"{f.Key}={f.Value}"));
        Assert.True(error.TryGetValue('S', out var severity) && severity == "FATAL", $"expected severity FATAL: {all}");
        Assert.True(error.TryGetValue('C', out var code) && code == sqlState, $"expected SQLSTATE {sqlState}: {all}");
        Assert.True(error.TryGetValue('M', out var message) && message.Contains(phrase, StringComparison.Ordinal), $"expected a message containing \"{phrase}\": {all}");
    }

    /// <summary>
    /// Waits (bounded) until the emulator tracks no session, counts none against the endpoint, and the backend has
    /// no client session carrying any of the given application names.
    /// </summary>
    private async Task AssertNoLeaksAsync(DsqlEmulator emulator, params string[] applicationNames)
    {
        var listener = emulator.FindEndpoint(emulator.Endpoints[0].Host)!;
        int open = -1, counted = -1, tracked = -1;
        long backendSessions = -1;
        bool clean = await EventuallyAsync(async () =>
        {
            open = emulator.OpenSessionCount;
            counted = Volatile.Read(ref listener.OpenSessions);
            tracked = TrackedSessionCount(emulator);
            backendSessions = applicationNames.Length == 0 ? 0 : await CountBackendSessionsAsync(applicationNames);
            return open == 0 && counted == 0 && tracked == 0 && backendSessions == 0;
        }, LeakWait);
        Assert.True(clean, $"leftovers {LeakWait.TotalSeconds} s after the bad session: OpenSessionCount={open}, endpoint open-session counter={counted}, sessions tracked by the emulator={tracked}, backend sessions={backendSessions}");
    }

    /// <summary>Every session the emulator still tracks, authenticated or not (OpenSessionCount sees only the former).</summary>
    private static int TrackedSessionCount(DsqlEmulator emulator) => emulator.TrackedSessionCount;

    private Task<long> CountBackendSessionsAsync(string applicationName, string extraCondition = "")
        => CountBackendSessionsAsync([applicationName], extraCondition);

    private async Task<long> CountBackendSessionsAsync(string[] applicationNames, string extraCondition = "")
    {
        await using var direct = backend.OpenDirect();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name = ANY(@names) " + extraCondition,
            direct);
        command.Parameters.AddWithValue("names", applicationNames);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task AssertStillServingAsync(DsqlEmulator emulator)
    {
        string app = EmulatorConnections.UniqueName("good_after");
        await using (var connection = await EmulatorConnections.OpenAsync(emulator, extra: "Application Name=" + app))
        {
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
        }
        bool closed = await EventuallyAsync(() => Task.FromResult(emulator.OpenSessionCount == 0), LeakWait);
        Assert.True(closed, "the good session did not close");
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition()) return true;
            if (DateTime.UtcNow >= deadline) return false;
            await Task.Delay(50);
        }
    }
}
