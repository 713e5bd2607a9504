using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Authentication;
using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>The connector's metrics and traces (meter and activity source "Dsql.Connector"), through the emulator.</summary>
[Collection(BackendCollection.Name)]
public sealed class TelemetryTests(BackendFixture backend)
{
    private static async Task<string> CreateCounterTableAsync(DsqlDataSource dataSource)
    {
        string table = EmulatorConnections.UniqueName("tel");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id int PRIMARY KEY, n bigint NOT NULL)");
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {table} VALUES (1, 0)");
        return table;
    }

    /// <summary>No tag of a measurement, an activity or an event carries a token or a piece of one.</summary>
    private static async Task AssertNoTokenAsync(TelemetryCollector telemetry, DsqlDataSource dataSource)
    {
        string token = await dataSource.TokenProvider.GetTokenAsync(dataSource.Endpoint, dataSource.Region, "admin");
        foreach (string value in telemetry.AllTagValues())
        {
            Assert.DoesNotContain("X-Amz", value, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(token, value, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Token_signing_and_cache_lookups_are_counted()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build("Pooling=false");

        for (int i = 0; i < 3; i++)
        {
            await using var connection = await dataSource.OpenConnectionAsync();
        }

        Assert.Equal(1, telemetry.Sum("dsql.token.generated"));
        Assert.Equal(1, telemetry.Sum("dsql.token.cache.misses"));
        Assert.Equal(2, telemetry.Sum("dsql.token.cache.hits"));
        Assert.Equal(3, telemetry.Sum("dsql.connect.attempts"));
        Assert.Equal(0, telemetry.Sum("dsql.connect.failures"));
        var signing = Assert.Single(telemetry.Of("dsql.token.signing.duration"));
        Assert.Equal("s", signing.Unit);
        Assert.InRange(signing.Value, 0, 10);
        var hit = telemetry.Of("dsql.token.cache.hits")[0];
        Assert.Equal("{lookup}", hit.Unit);
        Assert.Equal("us-east-1", hit.Tags["dsql.region"]);
        Assert.Equal("admin", hit.Tags["dsql.user"]);
        await AssertNoTokenAsync(telemetry, dataSource);
    }

    [Fact]
    public async Task A_cache_hit_allocates_nothing_with_a_listener_attached()
    {
        const string host = "telemetryallocationtestxyz.dsql.us-east-1.on.aws";
        using var telemetry = new TelemetryCollector("another.endpoint.dsql.us-east-1.on.aws"); // enabled, and filtering
        var generator = new DsqlTokenGenerator(new BasicAWSCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        using var provider = new DsqlTokenProvider(generator);
        string first = await provider.GetTokenAsync(host, "us-east-1", "admin");
        _ = provider.GetTokenAsync(host, "us-east-1", "admin");
        Assert.True(DsqlTelemetry.TokenCacheHits.Enabled);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            var pending = provider.GetTokenAsync(host, "us-east-1", "admin");
            Assert.True(pending.IsCompletedSuccessfully);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task A_throttled_connect_records_its_failures_with_the_reason()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        await using var dataSource = harness.Build("Pooling=false");
        harness.Emulator.Faults.RefuseNextConnections(2, "53400");

        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal(1, await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync());
        }

        var failures = telemetry.Of("dsql.connect.failures");
        Assert.Equal(2, failures.Count);
        Assert.All(failures, f => Assert.Equal("rate_limit", f.Tags["reason"]));
        Assert.All(failures, f => Assert.Equal("{failure}", f.Unit));
        Assert.All(failures, f => Assert.Equal("admin", f.Tags["dsql.user"]));
        // Attempts are counted where a physical connect asks for its token: Npgsql asks when the server requests the
        // password, and these refusals came before that, so only the connect that got through counts.
        Assert.Equal(1, telemetry.Sum("dsql.connect.attempts"));
        await AssertNoTokenAsync(telemetry, dataSource);
    }

    [Fact]
    public async Task A_refused_token_is_recorded_as_an_auth_failure()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        var wrong = new BasicAWSCredentials(TestTokens.AccessKeyId, "not-the-secret");
        await using var dataSource = harness.Builder("Pooling=false", wrong).Build();

        await Assert.ThrowsAsync<DsqlAuthenticationException>(async () => await dataSource.OpenConnectionAsync());

        // The first token is refused, a freshly signed one too.
        Assert.Equal(2, telemetry.Sum("dsql.connect.failures", "reason", "auth"));
        Assert.Equal(2, telemetry.Sum("dsql.connect.attempts"));
        Assert.Equal(2, telemetry.Sum("dsql.token.generated"));
    }

    [Fact]
    public async Task A_conflicting_transaction_records_the_conflict_the_retry_and_two_attempts()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateCounterTableAsync(dataSource);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        int attempts = 0;

        await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            attempts++;
            long seen = (long)(await new NpgsqlCommand($"SELECT n FROM {table} WHERE id = 1", connection).ExecuteScalarAsync(token))!;
            if (attempts == 1)
            {
                // Another client changes the row after this attempt's snapshot: this attempt must conflict.
                await using var other = await dataSource.OpenConnectionAsync(token);
                await new NpgsqlCommand($"UPDATE {table} SET n = n + 100 WHERE id = 1", other).ExecuteNonQueryAsync(token);
            }
            await new NpgsqlCommand($"UPDATE {table} SET n = {seen + 1} WHERE id = 1", connection).ExecuteNonQueryAsync(token);
        });

        Assert.Equal(2, attempts);
        Assert.Equal(1, telemetry.Sum("dsql.transaction.conflicts"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries"));
        Assert.Equal(0, telemetry.Sum("dsql.transaction.retries.exhausted"));
        var duration = Assert.Single(telemetry.Of("dsql.transaction.duration"));
        Assert.Equal("committed", duration.Tags["outcome"]);
        Assert.Equal("s", duration.Unit);
        Assert.True(duration.Value > 0);

        var activity = Assert.Single(telemetry.Activities);
        Assert.Equal("dsql.transaction", activity.OperationName);
        Assert.Equal(ActivityKind.Internal, activity.Kind);
        Assert.Equal("postgresql", activity.GetTagItem("db.system.name"));
        Assert.Equal(2, activity.GetTagItem("dsql.transaction.attempts"));
        Assert.Equal("committed", activity.GetTagItem("outcome"));
        Assert.NotEqual(ActivityStatusCode.Error, activity.Status);
        var attemptEvents = activity.Events.Where(e => e.Name == "attempt").ToList();
        Assert.Equal(2, attemptEvents.Count);
        Assert.Equal(["conflict", "committed"], attemptEvents.Select(e => e.Tags.Single(t => t.Key == "outcome").Value));
        Assert.Equal([1, 2], attemptEvents.Select(e => e.Tags.Single(t => t.Key == "dsql.transaction.attempt").Value));
        var retry = Assert.Single(activity.Events, e => e.Name == "retry");
        Assert.Equal(2, retry.Tags.Single(t => t.Key == "dsql.transaction.attempt").Value);
        Assert.IsType<double>(retry.Tags.Single(t => t.Key == "dsql.transaction.retry.delay").Value);
        await AssertNoTokenAsync(telemetry, dataSource);
    }

    [Fact]
    public async Task Exhausted_retries_are_recorded_with_the_outcome_conflict_exhausted()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        string table = await CreateCounterTableAsync(dataSource);
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);

        await Assert.ThrowsAsync<DsqlTransactionConflictException>(() => dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            long seen = (long)(await new NpgsqlCommand($"SELECT n FROM {table} WHERE id = 1", connection).ExecuteScalarAsync(token))!;
            await using var other = await dataSource.OpenConnectionAsync(token);
            await new NpgsqlCommand($"UPDATE {table} SET n = n + 100 WHERE id = 1", other).ExecuteNonQueryAsync(token);
            await new NpgsqlCommand($"UPDATE {table} SET n = {seen + 1} WHERE id = 1", connection).ExecuteNonQueryAsync(token);
        }, new DsqlTransactionOptions { MaxRetries = 1, BaseDelay = TimeSpan.FromMilliseconds(1) }));

        Assert.Equal(2, telemetry.Sum("dsql.transaction.conflicts"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries"));
        Assert.Equal(1, telemetry.Sum("dsql.transaction.retries.exhausted"));
        Assert.Equal("conflict_exhausted", Assert.Single(telemetry.Of("dsql.transaction.duration")).Tags["outcome"]);
        var activity = Assert.Single(telemetry.Activities);
        Assert.Equal(ActivityStatusCode.Error, activity.Status);
        Assert.Equal(typeof(DsqlTransactionConflictException).FullName, activity.GetTagItem("error.type"));
    }

    [Fact]
    public async Task A_guard_trip_is_recorded_with_the_outcome_timeout()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);

        await Assert.ThrowsAsync<DsqlTransactionTimeoutException>(() => dataSource.ExecuteInTransactionAsync(
            (connection, token) => new NpgsqlCommand("SELECT pg_sleep(30)", connection).ExecuteNonQueryAsync(token),
            new DsqlTransactionOptions { Timeout = TimeSpan.FromSeconds(1) }));

        Assert.Equal(1, telemetry.Sum("dsql.transaction.guard.trips"));
        Assert.Equal(0, telemetry.Sum("dsql.transaction.conflicts"));
        var duration = Assert.Single(telemetry.Of("dsql.transaction.duration"));
        Assert.Equal("timeout", duration.Tags["outcome"]);
        Assert.True(duration.Value >= 1);
        var activity = Assert.Single(telemetry.Activities);
        Assert.Equal(ActivityStatusCode.Error, activity.Status);
        Assert.Equal("timeout", activity.StatusDescription);
        Assert.Equal(1, activity.GetTagItem("dsql.transaction.attempts"));
        Assert.Equal("timeout", Assert.Single(activity.Events, e => e.Name == "attempt").Tags.Single(t => t.Key == "outcome").Value);
        await AssertNoTokenAsync(telemetry, dataSource);
    }

    [Fact]
    public async Task A_cancelled_transaction_is_recorded_as_cancelled()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        using var telemetry = new TelemetryCollector(harness.Endpoint.Host);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<Exception>(() => dataSource.ExecuteInTransactionAsync(
            (connection, token) => new NpgsqlCommand("SELECT pg_sleep(30)", connection).ExecuteNonQueryAsync(token),
            cancellationToken: cancellation.Token));

        Assert.Equal("cancelled", Assert.Single(telemetry.Of("dsql.transaction.duration")).Tags["outcome"]);
        Assert.Equal(0, telemetry.Sum("dsql.transaction.guard.trips"));
    }

    [Fact]
    public void Connect_failures_are_classified_by_their_cause()
    {
        Assert.Equal("rate_limit", DsqlDataSource.ConnectFailureReason(new PostgresException("rate exceeded", "FATAL", "FATAL", "53400")));
        Assert.Equal("too_many_connections", DsqlDataSource.ConnectFailureReason(new PostgresException("too many", "FATAL", "FATAL", "53300")));
        Assert.Equal("auth", DsqlDataSource.ConnectFailureReason(new PostgresException("refused", "FATAL", "FATAL", "28000")));
        Assert.Equal("auth", DsqlDataSource.ConnectFailureReason(new PostgresException("refused", "FATAL", "FATAL", "28P01")));
        Assert.Equal("other", DsqlDataSource.ConnectFailureReason(new PostgresException("no such database", "FATAL", "FATAL", "3D000")));
        Assert.Equal("tls", DsqlDataSource.ConnectFailureReason(new NpgsqlException("TLS failed", new AuthenticationException("remote certificate is invalid"))));
        Assert.Equal("tls", DsqlDataSource.ConnectFailureReason(new NpgsqlException("io", new IOException("read", new AuthenticationException("handshake")))));
        Assert.Equal("network", DsqlDataSource.ConnectFailureReason(new NpgsqlException("io", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.Equal("network", DsqlDataSource.ConnectFailureReason(new NpgsqlException("io", new IOException("reset"))));
        Assert.Equal("timeout", DsqlDataSource.ConnectFailureReason(new NpgsqlException("slow", new TimeoutException())));
        Assert.Equal("timeout", DsqlDataSource.ConnectFailureReason(new OperationCanceledException()));
        Assert.Equal("other", DsqlDataSource.ConnectFailureReason(new InvalidOperationException("?")));
    }

    [Fact]
    public void The_meter_and_the_activity_source_are_named_after_the_package_and_carry_its_version()
    {
        Assert.Equal("Dsql.Connector", DsqlTelemetry.Meter.Name);
        Assert.Equal("Dsql.Connector", DsqlTelemetry.ActivitySource.Name);
        Assert.False(string.IsNullOrEmpty(DsqlTelemetry.Meter.Version));
        Assert.DoesNotContain("+", DsqlTelemetry.Meter.Version, StringComparison.Ordinal);
        Assert.Equal(DsqlTelemetry.Meter.Version, DsqlTelemetry.ActivitySource.Version);
    }
}
