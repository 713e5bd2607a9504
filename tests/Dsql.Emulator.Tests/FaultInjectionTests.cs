using System.Diagnostics;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>The failures a test can inject through <see cref="DsqlEmulator.Faults"/>.</summary>
[Collection(BackendCollection.Name)]
public sealed class FaultInjectionTests(BackendFixture backend)
{
    private static readonly TimeSpan PollLimit = TimeSpan.FromSeconds(5);

    /// <summary>
    /// With its default GSS Encryption Mode (Prefer), Npgsql 10 makes a second connection attempt when the server
    /// answers the first one's startup with a FATAL error, so one failed OpenAsync would use up two refusals.
    /// Disabling GSS makes every OpenAsync exactly one connection attempt.
    /// </summary>
    private const string OneAttempt = "Gss Encryption Mode=Disable";

    // ------------------------------------------------------------------ refusals

    [Fact]
    public async Task Refused_connections_fail_with_53400_and_dsqls_rate_message_then_connects_succeed_again()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        emulator.Faults.RefuseNextConnections(2, "53400");

        for (int i = 0; i < 2; i++)
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, extra: OneAttempt));
            Assert.Equal("53400", ex.SqlState);
            Assert.Equal("Unable to accept connection, rate exceeded.", ex.MessageText);
            Assert.Equal("FATAL", ex.InvariantSeverity);
        }

        await using var connection = await EmulatorConnections.OpenAsync(emulator, extra: OneAttempt);
        Assert.Equal(1, await SelectOneAsync(connection));
        Assert.Equal(1, emulator.OpenSessionCount);
    }

    [Fact]
    public async Task Refusal_is_the_default_53400()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        emulator.Faults.RefuseNextConnections(1);

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, extra: OneAttempt));
        Assert.Equal("53400", ex.SqlState);
        Assert.Equal("Unable to accept connection, rate exceeded.", ex.MessageText);

        await using var connection = await EmulatorConnections.OpenAsync(emulator, extra: OneAttempt);
        Assert.Equal(1, await SelectOneAsync(connection));
    }

    [Fact]
    public async Task Refusal_with_53300_uses_dsqls_too_many_connections_message()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        emulator.Faults.RefuseNextConnections(1, "53300");

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, extra: OneAttempt));
        Assert.Equal("53300", ex.SqlState);
        Assert.Equal("Unable to accept connection, too many open connections.", ex.MessageText);

        await using var connection = await EmulatorConnections.OpenAsync(emulator, extra: OneAttempt);
        Assert.Equal(1, await SelectOneAsync(connection));
    }

    [Fact]
    public async Task Refusal_with_a_custom_sqlstate_and_message_sends_exactly_that()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        const string message = "injected refusal: the cluster is being restored";
        emulator.Faults.RefuseNextConnections(1, "08004", message);

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, extra: OneAttempt));
        Assert.Equal("08004", ex.SqlState);
        Assert.Equal(message, ex.MessageText);

        await using var connection = await EmulatorConnections.OpenAsync(emulator, extra: OneAttempt);
        Assert.Equal(1, await SelectOneAsync(connection));
    }

    [Fact]
    public async Task Refusals_do_not_touch_open_sessions()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var open = await EmulatorConnections.OpenAsync(emulator, extra: OneAttempt);
        emulator.Faults.RefuseNextConnections(1);

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, extra: OneAttempt));
        Assert.Equal("53400", ex.SqlState);
        Assert.Equal(1, await SelectOneAsync(open));
        Assert.Equal(1, emulator.OpenSessionCount);
    }

    [Fact]
    public async Task Fault_arguments_are_checked()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        Assert.Throws<ArgumentOutOfRangeException>(() => emulator.Faults.RefuseNextConnections(-1));
        Assert.Throws<ArgumentException>(() => emulator.Faults.RefuseNextConnections(1, "534"));
        Assert.Throws<ArgumentOutOfRangeException>(() => emulator.Faults.Latency = TimeSpan.FromMilliseconds(-1));
        Assert.Equal(TimeSpan.Zero, emulator.Faults.Latency);

        // A rejected call leaves nothing armed.
        await using var connection = await EmulatorConnections.OpenAsync(emulator, extra: OneAttempt);
        Assert.Equal(1, await SelectOneAsync(connection));
    }

    // ------------------------------------------------------------------ latency

    [Fact]
    public async Task Latency_delays_every_statement_by_at_least_the_configured_time()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, await SelectOneAsync(connection)); // the first round trip, untimed

        var latency = TimeSpan.FromMilliseconds(300);
        emulator.Faults.Latency = latency;
        try
        {
            Assert.Equal(latency, emulator.Faults.Latency);
            var stopwatch = Stopwatch.StartNew();
            Assert.Equal(1, await SelectOneAsync(connection));
            stopwatch.Stop();
            // A timer may fire up to a millisecond early relative to Stopwatch; allow for that rounding only.
            Assert.True(stopwatch.Elapsed >= latency - TimeSpan.FromMilliseconds(2),
                $"SELECT 1 took {stopwatch.Elapsed.TotalMilliseconds:F0} ms with {latency.TotalMilliseconds} ms of injected latency");
        }
        finally
        {
            emulator.Faults.Latency = TimeSpan.Zero;
        }
        Assert.Equal(TimeSpan.Zero, emulator.Faults.Latency);
        Assert.Equal(1, await SelectOneAsync(connection));
    }

    [Fact]
    public async Task Latency_delays_connecting_too()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var latency = TimeSpan.FromMilliseconds(300);
        emulator.Faults.Latency = latency;
        try
        {
            var stopwatch = Stopwatch.StartNew();
            await using var connection = await EmulatorConnections.OpenAsync(emulator);
            stopwatch.Stop();
            Assert.True(stopwatch.Elapsed >= latency - TimeSpan.FromMilliseconds(2),
                $"connecting took {stopwatch.Elapsed.TotalMilliseconds:F0} ms with {latency.TotalMilliseconds} ms of injected latency");
        }
        finally
        {
            emulator.Faults.Latency = TimeSpan.Zero;
        }
    }

    // ------------------------------------------------------------------ pausing

    [Fact]
    public async Task While_accepting_is_paused_connects_time_out_and_after_resuming_they_succeed()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        Assert.False(emulator.Faults.IsAcceptingPaused);

        emulator.Faults.PauseAccepting();
        Assert.True(emulator.Faults.IsAcceptingPaused);
        try
        {
            // Two attempts: every client must wait while paused, including the first one after the pause.
            for (int attempt = 1; attempt <= 2; attempt++)
            {
                var ex = await OpenWhilePausedAsync(emulator);
                Assert.True(ex is not null, $"attempt {attempt}: a connection was opened while accepting was paused");
                Assert.False(ex is PostgresException, $"attempt {attempt}: the emulator answered while paused: {ex}");
                Assert.True(ex is NpgsqlException or TimeoutException, $"attempt {attempt}: expected a connect timeout, got {ex}");
                Assert.Equal(0, emulator.OpenSessionCount);
                Assert.True(emulator.Faults.IsAcceptingPaused);
            }
        }
        finally
        {
            emulator.Faults.ResumeAccepting();
        }
        Assert.False(emulator.Faults.IsAcceptingPaused);

        // The attempts above may still sit in the listen backlog; they are accepted now and fail their handshake
        // (their clients are gone). That must not disturb a new client.
        await using var after = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, await SelectOneAsync(after));
        Assert.Equal(1, emulator.OpenSessionCount);
    }

    /// <summary>
    /// Opens a connection with Npgsql's Timeout=1 and returns what it threw (null if it opened). The open is
    /// synchronous on purpose: Npgsql 10's OpenAsync with SSL Negotiation=Direct does not apply Timeout to the TLS
    /// handshake and would wait for the server indefinitely; the synchronous open times out after 1 s.
    /// </summary>
    private static async Task<Exception?> OpenWhilePausedAsync(DsqlEmulator emulator)
    {
        var endpoint = emulator.Endpoints[0];
        string connectionString = endpoint.NpgsqlConnectionString("admin", TestTokens.For(emulator, endpoint)) + ";Timeout=1;" + OneAttempt;
        var open = Task.Run(() =>
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
        });
        var finished = await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(finished == open, "the open with Timeout=1 neither failed nor succeeded within 30 s");
        return open.Exception?.InnerException;
    }

    [Fact]
    public async Task Pausing_keeps_open_sessions_working()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var open = await EmulatorConnections.OpenAsync(emulator);
        emulator.Faults.PauseAccepting();
        emulator.Faults.PauseAccepting(); // pausing twice is harmless
        try
        {
            Assert.Equal(1, await SelectOneAsync(open));
        }
        finally
        {
            emulator.Faults.ResumeAccepting();
        }
        emulator.Faults.ResumeAccepting(); // and so is resuming twice
        Assert.False(emulator.Faults.IsAcceptingPaused);
        await using var second = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, await SelectOneAsync(second));
    }

    // ------------------------------------------------------------------ closing sessions

    [Fact]
    public async Task CloseAllSessions_breaks_every_open_connection()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var first = await EmulatorConnections.OpenAsync(emulator);
        await using var second = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(2, emulator.OpenSessionCount);

        Assert.Equal(2, emulator.Faults.CloseAllSessions());
        await WaitForAsync(() => emulator.OpenSessionCount == 0, "OpenSessionCount to drop to 0");

        await AssertBrokenAsync(first);
        await AssertBrokenAsync(second);

        await using var fresh = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, await SelectOneAsync(fresh));
        Assert.Equal(1, emulator.OpenSessionCount);
    }

    [Fact]
    public async Task CloseAllSessions_with_nothing_open_returns_zero()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        Assert.Equal(0, emulator.Faults.CloseAllSessions());
        Assert.Equal(0, emulator.Faults.CloseSessions(3));
    }

    [Fact]
    public async Task CloseSessions_closes_exactly_the_oldest()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var oldest = await EmulatorConnections.OpenAsync(emulator);
        await using var middle = await EmulatorConnections.OpenAsync(emulator);
        await using var newest = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(3, emulator.OpenSessionCount);

        Assert.Equal(1, emulator.Faults.CloseSessions(1));
        await WaitForAsync(() => emulator.OpenSessionCount == 2, "OpenSessionCount to drop to 2");

        await AssertBrokenAsync(oldest);
        Assert.Equal(1, await SelectOneAsync(middle));
        Assert.Equal(1, await SelectOneAsync(newest));

        // Asking for more than are open closes what there is.
        Assert.Equal(2, emulator.Faults.CloseSessions(5));
        await WaitForAsync(() => emulator.OpenSessionCount == 0, "OpenSessionCount to drop to 0");
        await AssertBrokenAsync(middle);
        await AssertBrokenAsync(newest);
    }

    // ------------------------------------------------------------------ clock

    [Fact]
    public async Task AdvanceClock_moves_the_emulator_clock_by_the_delta()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        Assert.Equal(TimeSpan.Zero, emulator.Clock.Offset);
        var delta = TimeSpan.FromMinutes(20);

        var before = emulator.Clock.GetUtcNow();
        emulator.Faults.AdvanceClock(delta);
        var systemNow = DateTimeOffset.UtcNow;
        var after = emulator.Clock.GetUtcNow();

        Assert.Equal(delta, emulator.Clock.Offset);
        Assert.True(after - before >= delta, $"clock moved by {after - before}, expected at least {delta}");
        Assert.True(after - systemNow >= delta, $"clock is {after - systemNow} ahead of the system clock, expected at least {delta}");

        emulator.Faults.AdvanceClock(TimeSpan.FromMinutes(-5));
        Assert.Equal(TimeSpan.FromMinutes(15), emulator.Clock.Offset);
    }

    [Fact]
    public async Task After_AdvanceClock_a_token_signed_at_real_now_is_expired_and_one_signed_at_shifted_time_works()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string realNowToken = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", DateTimeOffset.UtcNow, expiresSeconds: 900);

        // Valid before the clock moves.
        await using (var before = await EmulatorConnections.OpenAsync(emulator, token: realNowToken))
            Assert.Equal(1, await SelectOneAsync(before));

        emulator.Faults.AdvanceClock(TimeSpan.FromMinutes(20));

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, token: realNowToken));
        Assert.Equal("28000", ex.SqlState);
        Assert.Contains("expired", ex.MessageText);

        string shiftedToken = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", emulator.Clock.GetUtcNow());
        await using var after = await EmulatorConnections.OpenAsync(emulator, token: shiftedToken);
        Assert.Equal(1, await SelectOneAsync(after));
    }

    [Fact]
    public async Task A_token_signed_at_shifted_time_is_not_yet_valid_before_the_clock_moves()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string futureToken = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", DateTimeOffset.UtcNow.AddMinutes(20));

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, token: futureToken));
        Assert.Equal("28000", ex.SqlState);
        Assert.Contains("not valid yet", ex.MessageText);

        emulator.Faults.AdvanceClock(TimeSpan.FromMinutes(20));
        await using var connection = await EmulatorConnections.OpenAsync(emulator, token: futureToken);
        Assert.Equal(1, await SelectOneAsync(connection));
    }

    // ------------------------------------------------------------------ helpers

    private static async Task<int> SelectOneAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The next command fails and leaves the connection unusable.</summary>
    private static async Task AssertBrokenAsync(NpgsqlConnection connection)
    {
        var ex = await Record.ExceptionAsync(() => SelectOneAsync(connection));
        Assert.NotNull(ex);
        var npgsql = Assert.IsAssignableFrom<NpgsqlException>(ex);
        if (npgsql is PostgresException postgres) Assert.Equal("57P01", postgres.SqlState);
        Assert.True(connection.FullState.HasFlag(System.Data.ConnectionState.Broken) || connection.State == System.Data.ConnectionState.Closed,
            $"connection state after the close: {connection.FullState}");
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (stopwatch.Elapsed > PollLimit) Assert.Fail($"Timed out after {PollLimit.TotalSeconds} s waiting for {what}.");
            await Task.Delay(20);
        }
    }
}
