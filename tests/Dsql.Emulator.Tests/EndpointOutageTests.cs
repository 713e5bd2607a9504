using System.Data;
using System.Diagnostics;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Emulator.Tool.Cli;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// <see cref="EmulatorFaults.ForEndpoint"/>: one endpoint of a two-Region cluster made unavailable the way DSQL's is
/// during a Region impairment, while the other endpoint over the same backend keeps serving.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class EndpointOutageTests(BackendFixture backend)
{
    private const string EastOne = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string EastTwo = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws";
    private const int Impaired = 0;
    private const int Peer = 1;

    /// <summary>One connection attempt per open (see FaultInjectionTests), and no statement sent by the open itself.</summary>
    private const string Plain = "Gss Encryption Mode=Disable;Server Compatibility Mode=NoTypeLoading";

    private Task<DsqlEmulator> StartTwoRegionsAsync() => backend.StartEmulatorAsync(o =>
    {
        o.Endpoints.Add(new EmulatorEndpoint(EastOne));
        o.Endpoints.Add(new EmulatorEndpoint(EastTwo));
    });

    private static Task<NpgsqlConnection> OpenAsync(DsqlEmulator emulator, int endpoint) => EmulatorConnections.OpenAsync(emulator, endpoint: endpoint, extra: Plain);

    private static async Task<int> SelectOneAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<string> CreateTableAsync(DsqlEmulator emulator)
    {
        string table = EmulatorConnections.UniqueName("outage");
        await using var connection = await OpenAsync(emulator, Peer);
        await new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY)", connection).ExecuteNonQueryAsync();
        return table;
    }

    private void DropTable(string table)
    {
        using var direct = backend.OpenDirect();
        using var drop = new NpgsqlCommand($"DROP TABLE IF EXISTS {table}", direct);
        drop.ExecuteNonQuery();
    }

    private static async Task<long> CountAsync(NpgsqlConnection connection, string table)
        => (long)(await new NpgsqlCommand($"SELECT count(*) FROM {table}", connection).ExecuteScalarAsync())!;

    /// <summary>
    /// A session through the emulator with a hand-written client: Npgsql closes its connection after any error of
    /// class XX (it takes them for a dying server), so the session's life after XX000 is observed at the protocol level.
    /// </summary>
    private static async Task<RawPgClient> RawSessionAsync(DsqlEmulator emulator, int endpoint)
    {
        var info = emulator.Endpoints[endpoint];
        var client = await RawPgClient.ConnectAsync(info);
        await client.StartDirectTlsAsync(info);
        await client.SendStartupAsync(("user", "admin"), ("database", "postgres"));
        await client.AuthenticateAsync(TestTokens.For(emulator, info));
        return client;
    }

    /// <summary>Runs a simple query; returns the SQLSTATE of its error (null: none) and the transaction status after it.</summary>
    private static async Task<(string? SqlState, char Status)> RawQueryAsync(RawPgClient client, string sql)
    {
        await client.SendQueryAsync(sql);
        string? sqlState = null;
        while (true)
        {
            var message = await client.ReadMessageAsync() ?? throw new Xunit.Sdk.XunitException($"the emulator closed the session during '{sql}'");
            if (message.Type == 'E')
            {
                var fields = message.ErrorFields();
                sqlState ??= fields['C'];
                if (fields['C'] == "XX000") Assert.Equal("server unavailable", fields['M']);
            }
            if (message.Type == 'Z') return (sqlState, (char)message.Body[0]);
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (stopwatch.Elapsed > TimeSpan.FromSeconds(5)) Assert.Fail($"Timed out waiting for {what}.");
            await Task.Delay(20);
        }
    }

    // ------------------------------------------------------------------ connects

    [Fact]
    public async Task Refused_connects_fail_fast_with_XX000_on_that_endpoint_only_and_open_sessions_keep_working()
    {
        await using var emulator = await StartTwoRegionsAsync();
        var faults = emulator.Faults.ForEndpoint(EastOne);
        await using var open = await OpenAsync(emulator, Impaired);

        faults.Unavailable(); // RefuseConnects by default
        Assert.Equal(EndpointOutage.RefuseConnects, faults.Outage);
        Assert.False(faults.IsAvailable);

        var ex = await Assert.ThrowsAsync<PostgresException>(() => OpenAsync(emulator, Impaired));
        Assert.Equal("XX000", ex.SqlState);
        Assert.Equal("server unavailable", ex.MessageText);
        Assert.Equal("FATAL", ex.InvariantSeverity);
        Assert.Equal(1, faults.ConnectsRefused);
        Assert.Equal(1, await SelectOneAsync(open)); // sessions already open are not touched

        await using (var peer = await OpenAsync(emulator, Peer))
            Assert.Equal(1, await SelectOneAsync(peer));
        Assert.Equal(0, emulator.Faults.ForEndpoint(EastTwo).ConnectsRefused);

        faults.Available();
        Assert.True(faults.IsAvailable);
        await using var again = await OpenAsync(emulator, Impaired);
        Assert.Equal(1, await SelectOneAsync(again));
        Assert.Equal(1, faults.ConnectsRefused);
        Assert.Equal(0, faults.SessionsCut);
        Assert.Equal(0, faults.StatementsFailed);
    }

    [Fact]
    public async Task Reset_connects_fail_without_a_server_message_and_stalled_connects_get_no_answer_until_available()
    {
        await using var emulator = await StartTwoRegionsAsync();
        var faults = emulator.Faults.ForEndpoint(EastOne);

        faults.Unavailable(EndpointOutage.ResetConnects);
        var reset = await Record.ExceptionAsync(() => OpenAsync(emulator, Impaired));
        Assert.IsAssignableFrom<NpgsqlException>(reset);
        Assert.IsNotType<PostgresException>(reset); // a network failure: the server said nothing
        Assert.Equal(1, faults.ConnectsRefused);
        await using (var peer = await OpenAsync(emulator, Peer))
            Assert.Equal(1, await SelectOneAsync(peer));

        faults.Unavailable(EndpointOutage.StallConnects);
        // Synchronous open: Npgsql's OpenAsync does not apply Timeout to a direct TLS handshake (see FaultInjectionTests).
        var endpoint = emulator.Endpoints[Impaired];
        string connectionString = endpoint.NpgsqlConnectionString("admin", TestTokens.For(emulator, endpoint)) + ";Timeout=1;" + Plain;
        var stalled = await Record.ExceptionAsync(() => Task.Run(() =>
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
        }).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(stalled is NpgsqlException or TimeoutException && stalled is not PostgresException, $"expected a connect timeout, got {stalled}");
        Assert.Equal(2, faults.ConnectsRefused);
        await using (var peer = await OpenAsync(emulator, Peer))
            Assert.Equal(1, await SelectOneAsync(peer));

        faults.Available();
        await WaitForAsync(() => emulator.TrackedSessionCount == 0, "the stalled connection to be closed");
        await using var again = await OpenAsync(emulator, Impaired);
        Assert.Equal(1, await SelectOneAsync(again));
    }

    // ------------------------------------------------------------------ sessions

    [Fact]
    public async Task Cut_sessions_end_the_endpoints_sessions_with_57P01_and_refuse_new_ones_while_the_peer_serves()
    {
        await using var emulator = await StartTwoRegionsAsync();
        var faults = emulator.Faults.ForEndpoint(EastOne);
        await using var first = await OpenAsync(emulator, Impaired);
        await using var second = await OpenAsync(emulator, Impaired);
        await using var peer = await OpenAsync(emulator, Peer);

        faults.Unavailable(EndpointOutage.CutSessions);
        Assert.Equal(2, faults.SessionsCut);
        await WaitForAsync(() => emulator.OpenSessionCount == 1, "the impaired endpoint's sessions to close");

        foreach (var connection in new[] { first, second })
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => SelectOneAsync(connection));
            Assert.Equal("57P01", ex.SqlState);
            Assert.NotEqual(ConnectionState.Open, connection.State);
        }
        var refused = await Assert.ThrowsAsync<PostgresException>(() => OpenAsync(emulator, Impaired));
        Assert.Equal("57P01", refused.SqlState);
        Assert.Equal(1, faults.ConnectsRefused);
        Assert.Equal(1, await SelectOneAsync(peer));

        faults.Available();
        await using var again = await OpenAsync(emulator, Impaired);
        Assert.Equal(1, await SelectOneAsync(again));
        Assert.Equal(2, faults.SessionsCut);
    }

    [Fact]
    public async Task Dropped_sessions_close_without_a_message_and_new_connects_are_reset()
    {
        await using var emulator = await StartTwoRegionsAsync();
        var faults = emulator.Faults.ForEndpoint(EastOne);
        await using var open = await OpenAsync(emulator, Impaired);
        await using var peer = await OpenAsync(emulator, Peer);

        faults.Unavailable(EndpointOutage.DropSessions);
        Assert.Equal(1, faults.SessionsCut);
        await WaitForAsync(() => emulator.OpenSessionCount == 1, "the impaired endpoint's session to close");

        var dropped = await Record.ExceptionAsync(() => SelectOneAsync(open));
        Assert.IsAssignableFrom<NpgsqlException>(dropped);
        Assert.IsNotType<PostgresException>(dropped);
        var reset = await Record.ExceptionAsync(() => OpenAsync(emulator, Impaired));
        Assert.IsAssignableFrom<NpgsqlException>(reset);
        Assert.IsNotType<PostgresException>(reset);
        Assert.Equal(1, faults.ConnectsRefused);
        Assert.Equal(1, await SelectOneAsync(peer));
    }

    // ------------------------------------------------------------------ XX000 server unavailable

    [Fact]
    public async Task Server_unavailable_fails_every_statement_of_the_endpoint_while_writes_through_the_peer_land()
    {
        await using var emulator = await StartTwoRegionsAsync();
        string table = await CreateTableAsync(emulator);
        try
        {
            var faults = emulator.Faults.ForEndpoint(EastOne);
            await using var raw = await RawSessionAsync(emulator, Impaired);
            await using var open = await OpenAsync(emulator, Impaired);
            await using var peer = await OpenAsync(emulator, Peer);

            faults.Unavailable(EndpointOutage.ServerUnavailable);
            Assert.Equal(("XX000", 'I'), await RawQueryAsync(raw, "SELECT 1"));
            var ex = await Assert.ThrowsAsync<PostgresException>(() => SelectOneAsync(open));
            Assert.Equal("XX000", ex.SqlState);
            Assert.Equal("server unavailable", ex.MessageText);
            Assert.Equal("ERROR", ex.InvariantSeverity);
            Assert.NotEqual(ConnectionState.Open, open.State); // Npgsql's own choice for class XX: it drops the connection

            // New sessions connect, and their first statement fails.
            await using (var fresh = await OpenAsync(emulator, Impaired))
                Assert.Equal("XX000", (await Assert.ThrowsAsync<PostgresException>(() => SelectOneAsync(fresh))).SqlState);
            Assert.Equal(3, faults.StatementsFailed);
            Assert.Equal(0, faults.ConnectsRefused);

            // The peer serves, and what it writes is there when the endpoint comes back.
            await new NpgsqlCommand($"INSERT INTO {table} VALUES (2)", peer).ExecuteNonQueryAsync();
            Assert.Equal(0, emulator.Faults.ForEndpoint(EastTwo).StatementsFailed);

            faults.Available();
            Assert.Equal((null, 'I'), await RawQueryAsync(raw, "SELECT 1")); // the emulator kept the session
            await using var again = await OpenAsync(emulator, Impaired);
            Assert.Equal(1L, await CountAsync(again, table));
            Assert.Equal(3, faults.StatementsFailed);
        }
        finally
        {
            DropTable(table);
        }
    }

    [Fact]
    public async Task Server_unavailable_inside_a_transaction_aborts_it_and_a_commit_so_answered_commits_nothing()
    {
        await using var emulator = await StartTwoRegionsAsync();
        string table = await CreateTableAsync(emulator);
        try
        {
            var faults = emulator.Faults.ForEndpoint(EastOne);
            Assert.Equal(UnavailableCommitOutcome.NotCommitted, faults.CommitOutcome);
            await using var raw = await RawSessionAsync(emulator, Impaired);
            await using var peer = await OpenAsync(emulator, Peer);

            // A statement fails: the transaction is aborted (later statements fail too), and the client's ROLLBACK goes through.
            Assert.Equal((null, 'T'), await RawQueryAsync(raw, "BEGIN"));
            Assert.Equal((null, 'T'), await RawQueryAsync(raw, $"INSERT INTO {table} VALUES (1)"));
            faults.Unavailable(EndpointOutage.ServerUnavailable);
            Assert.Equal(("XX000", 'E'), await RawQueryAsync(raw, $"INSERT INTO {table} VALUES (2)"));
            Assert.Equal(("XX000", 'E'), await RawQueryAsync(raw, "SELECT 1"));
            Assert.Equal((null, 'I'), await RawQueryAsync(raw, "ROLLBACK"));
            faults.Available();

            // The COMMIT itself fails, and the transaction is over.
            Assert.Equal((null, 'T'), await RawQueryAsync(raw, "BEGIN"));
            Assert.Equal((null, 'T'), await RawQueryAsync(raw, $"INSERT INTO {table} VALUES (3)"));
            faults.Unavailable(EndpointOutage.ServerUnavailable);
            Assert.Equal(("XX000", 'I'), await RawQueryAsync(raw, "COMMIT"));
            Assert.Equal(3, faults.StatementsFailed);
            Assert.Equal(0L, await CountAsync(peer, table));

            // Through Npgsql: the COMMIT throws, nothing is committed.
            faults.Available();
            await using (var open = await OpenAsync(emulator, Impaired))
            await using (var transaction = await open.BeginTransactionAsync(IsolationLevel.RepeatableRead))
            {
                await new NpgsqlCommand($"INSERT INTO {table} VALUES (4)", open, transaction).ExecuteNonQueryAsync();
                faults.Unavailable(EndpointOutage.ServerUnavailable);
                Assert.Equal("XX000", (await Assert.ThrowsAsync<PostgresException>(() => transaction.CommitAsync())).SqlState);
            }
            Assert.Equal(0L, await CountAsync(peer, table));

            faults.Available();
            Assert.Equal((null, 'I'), await RawQueryAsync(raw, "SELECT 1"));
            Assert.Equal(4, faults.StatementsFailed);
        }
        finally
        {
            DropTable(table);
        }
    }

    [Fact]
    public async Task A_commit_answered_XX000_can_be_made_to_have_committed()
    {
        await using var emulator = await StartTwoRegionsAsync();
        string table = await CreateTableAsync(emulator);
        try
        {
            var faults = emulator.Faults.ForEndpoint(EastOne);
            faults.CommitOutcome = UnavailableCommitOutcome.Committed;
            await using var peer = await OpenAsync(emulator, Peer);

            await using (var open = await OpenAsync(emulator, Impaired))
            await using (var transaction = await open.BeginTransactionAsync(IsolationLevel.RepeatableRead))
            {
                await new NpgsqlCommand($"INSERT INTO {table} VALUES (1)", open, transaction).ExecuteNonQueryAsync();
                faults.Unavailable(EndpointOutage.ServerUnavailable);
                var ex = await Assert.ThrowsAsync<PostgresException>(() => transaction.CommitAsync());
                Assert.Equal("XX000", ex.SqlState);
            }
            Assert.Equal(1L, await CountAsync(peer, table)); // committed all the same, visible through the peer at once
            Assert.Equal(1, faults.StatementsFailed);
        }
        finally
        {
            DropTable(table);
        }
    }

    // ------------------------------------------------------------------ intermittent

    [Fact]
    public async Task A_fail_fraction_fails_about_that_share_of_statements_and_connects_the_same_way_for_the_same_seed()
    {
        await using var emulator = await StartTwoRegionsAsync();
        var faults = emulator.Faults.ForEndpoint(EastOne);
        await using var raw = await RawSessionAsync(emulator, Impaired);
        await using var peer = await RawSessionAsync(emulator, Peer);

        async Task<bool[]> RunStatementsAsync(RawPgClient client, int count)
        {
            var failed = new bool[count];
            for (int i = 0; i < count; i++)
            {
                var (sqlState, status) = await RawQueryAsync(client, "SELECT 1");
                Assert.True(sqlState is null or "XX000", $"statement {i} failed with {sqlState}");
                Assert.Equal('I', status);
                failed[i] = sqlState is not null;
            }
            return failed;
        }

        faults.FailFraction(0.25, seed: 7);
        Assert.Equal(0.25, faults.FailureFraction);
        Assert.False(faults.IsAvailable);
        var first = await RunStatementsAsync(raw, 120);
        int failures = first.Count(f => f);
        Assert.Equal(failures, faults.StatementsFailed);
        Assert.InRange(failures, 15, 45); // 30 expected

        int refused = 0;
        for (int i = 0; i < 24; i++)
        {
            try
            {
                await using var connection = await OpenAsync(emulator, Impaired);
            }
            catch (PostgresException ex) when (ex.SqlState == "XX000")
            {
                refused++;
            }
        }
        Assert.Equal(refused, faults.ConnectsRefused);
        Assert.InRange(refused, 2, 12); // 6 expected

        // The same seed fails the same statements again.
        faults.FailFraction(0.25, seed: 7);
        Assert.Equal(first, await RunStatementsAsync(raw, 120));

        // The peer is never touched; zero turns the fraction off.
        Assert.DoesNotContain(true, await RunStatementsAsync(peer, 30));
        faults.FailFraction(0);
        Assert.True(faults.IsAvailable);
        Assert.DoesNotContain(true, await RunStatementsAsync(raw, 30));
    }

    // ------------------------------------------------------------------ arguments and the command line

    [Fact]
    public async Task Endpoints_are_found_by_host_in_any_case_and_bad_arguments_are_refused()
    {
        await using var emulator = await StartTwoRegionsAsync();
        var faults = emulator.Faults.ForEndpoint(EastOne);
        Assert.Same(faults, emulator.Faults.ForEndpoint(EastOne.ToUpperInvariant()));
        Assert.NotSame(faults, emulator.Faults.ForEndpoint(EastTwo));
        Assert.Equal(EastOne, faults.Host);
        Assert.True(faults.IsAvailable);
        Assert.Equal(EndpointOutage.None, faults.Outage);

        var unknown = Assert.Throws<ArgumentException>(() => emulator.Faults.ForEndpoint("other.dsql.us-east-1.on.aws"));
        Assert.Contains("'other.dsql.us-east-1.on.aws'", unknown.Message);
        Assert.Contains(EastTwo, unknown.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.Unavailable((EndpointOutage)42));
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.FailFraction(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.FailFraction(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.FailFraction(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => faults.CommitOutcome = (UnavailableCommitOutcome)9);
        Assert.True(faults.IsAvailable); // nothing armed by a refused call

        faults.Unavailable(EndpointOutage.None); // the same as Available()
        Assert.True(faults.IsAvailable);

        // What dsql-emulator --fault does once the emulator runs.
        new EndpointFaultSpec(EastOne.ToUpperInvariant(), EndpointOutage.StallConnects).Apply(emulator);
        new EndpointFaultSpec(EastTwo, EndpointOutage.None, 0.5, 3).Apply(emulator);
        Assert.Equal(EndpointOutage.StallConnects, faults.Outage);
        Assert.Equal(0.5, emulator.Faults.ForEndpoint(EastTwo).FailureFraction);
        Assert.Equal("FailFraction 0.5 seed 3", new EndpointFaultSpec(EastTwo, EndpointOutage.None, 0.5, 3).Describe());
    }

    [Fact]
    public void The_command_line_takes_a_fault_per_endpoint_and_names_what_is_wrong()
    {
        var commandLine = CommandLine.Parse(
            ["--endpoint", EastOne, "--endpoint", EastTwo, "--fault", $"{EastOne}=unavailable", "--fault", $"{EastTwo.ToUpperInvariant()}=fail-fraction:0.2:7"], _ => null);
        Assert.Equal(
            [new EndpointFaultSpec(EastOne, EndpointOutage.RefuseConnects), new EndpointFaultSpec(EastTwo.ToUpperInvariant(), EndpointOutage.None, 0.2, 7)],
            commandLine.Faults);
        Assert.Empty(CommandLine.Parse([], _ => null).Faults);
        Assert.Equal(EndpointOutage.ServerUnavailable,
            Assert.Single(CommandLine.Parse(["--fault", EmulatorEndpoint.DefaultHost + "=server-unavailable"], _ => null).Faults).Outage);

        var ex = Assert.Throws<CommandLineException>(() => CommandLine.Parse(
            ["--endpoint", EastOne, "--fault", "other.dsql.us-east-1.on.aws=unavailable", "--fault", EastOne + "=sideways",
             "--fault", EastOne + "=fail-fraction:2", "--fault", "no-mode"], _ => null));
        Assert.Equal(4, ex.Problems.Count);
        Assert.Contains("'other.dsql.us-east-1.on.aws' is not one of the endpoints", ex.Problems[0]);
        Assert.Contains("unknown mode 'sideways'", ex.Problems[1]);
        Assert.Contains("fraction '2'", ex.Problems[2]);
        Assert.Contains("<host>=<mode>", ex.Problems[3]);

        var twice = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--fault", EmulatorEndpoint.DefaultHost + "=unavailable", "--fault", EmulatorEndpoint.DefaultHost + "=cut-sessions"], _ => null));
        Assert.Contains("has a fault already", Assert.Single(twice.Problems));
        Assert.Contains("--fault", CommandLine.HelpText());
    }
}
