using System.Data.Common;
using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>DsqlDataSource against the emulator: real TLS verified against the emulator's CA, real IAM tokens.</summary>
[Collection(BackendCollection.Name)]
public sealed class DataSourceTests(BackendFixture backend)
{
    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
        => (T)(await new NpgsqlCommand(sql, connection).ExecuteScalarAsync())!;

    [Fact]
    public async Task Connects_as_admin_with_verify_full_tls_and_a_signed_token()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal("admin", await ScalarAsync<string>(connection, "SELECT current_user"));
        Assert.Equal(harness.Endpoint.Host, dataSource.Endpoint);
        Assert.Equal("us-east-1", dataSource.Region);
    }

    [Fact]
    public async Task Connects_as_another_role_with_a_DbConnect_token()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        string role = EmulatorConnections.UniqueName("app");
        await using (var admin = harness.Build())
        await using (var connection = await admin.OpenConnectionAsync())
            await new NpgsqlCommand($"CREATE ROLE {role} WITH LOGIN", connection).ExecuteNonQueryAsync();
        await using var dataSource = harness.Build($"Username={role}");
        await using var app = await dataSource.OpenConnectionAsync();
        Assert.Equal(role, await ScalarAsync<string>(app, "SELECT current_user"));
    }

    [Fact]
    public async Task The_emulators_connector_connection_string_connects_with_the_example_key()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend, region: "eu-west-1");
        string connectionString = harness.Endpoint.ConnectorConnectionString();
        await using var dataSource = new DsqlDataSourceBuilder(connectionString)
            .UseCredentials(new BasicAWSCredentials(Dsql.Emulator.DsqlEmulatorOptions.ExampleAccessKeyId, Dsql.Emulator.DsqlEmulatorOptions.ExampleSecretAccessKey))
            .UseTimeProvider(harness.Emulator.Clock)
            .Build();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal("admin", await ScalarAsync<string>(connection, "SELECT current_user"));
        Assert.Equal(harness.Endpoint.Host, dataSource.Endpoint);
        Assert.Equal("eu-west-1", dataSource.Region);
        Assert.DoesNotContain("Password", connectionString, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_emulators_connector_connection_string_names_a_role_when_asked()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        string role = EmulatorConnections.UniqueName("app");
        await using (var admin = harness.Build())
        await using (var connection = await admin.OpenConnectionAsync())
            await new NpgsqlCommand($"CREATE ROLE {role} WITH LOGIN", connection).ExecuteNonQueryAsync();
        await using var dataSource = new DsqlDataSourceBuilder(harness.Endpoint.ConnectorConnectionString(role))
            .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret))
            .UseTimeProvider(harness.Emulator.Clock)
            .Build();
        await using var app = await dataSource.OpenConnectionAsync();
        Assert.Equal(role, await ScalarAsync<string>(app, "SELECT current_user"));
    }

    [Fact]
    public async Task Works_as_a_plain_DbDataSource()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using DbDataSource dataSource = harness.Build();
        await using var command = dataSource.CreateCommand("SELECT 41 + 1");
        Assert.Equal(42, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Identifies_itself_with_an_application_name_unless_the_user_sets_one()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using (var dataSource = harness.Build())
        await using (var connection = await dataSource.OpenConnectionAsync())
            Assert.StartsWith("Dsql.Connector/", await ScalarAsync<string>(connection, "SELECT current_setting('application_name')"));
        await using (var dataSource = harness.Build("Application Name=orders-api"))
        await using (var connection = await dataSource.OpenConnectionAsync())
            Assert.Equal("orders-api", await ScalarAsync<string>(connection, "SELECT current_setting('application_name')"));
    }

    [Fact]
    public async Task A_new_physical_connection_after_token_expiry_gets_a_fresh_token()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build("Token Lifetime=60;Pooling=false");
        await (await dataSource.OpenConnectionAsync()).DisposeAsync();
        string first = await dataSource.TokenProvider.GetTokenAsync(dataSource.Endpoint, dataSource.Region, "admin");

        // The emulator and the connector share a clock: move it past the token's lifetime.
        harness.Emulator.Faults.AdvanceClock(TimeSpan.FromSeconds(61));
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await ScalarAsync<int>(connection, "SELECT 1"));
        string second = await dataSource.TokenProvider.GetTokenAsync(dataSource.Endpoint, dataSource.Region, "admin");
        Assert.NotEqual(first, second);
        Assert.DoesNotContain("retry", harness.Logs.All, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Continuous_work_across_connection_age_cuts_has_no_failed_operation()
    {
        // DSQL's 60-minute cut, compressed: the emulator closes sessions after 3 s, the pool retires them after 1 s.
        await using var harness = await ConnectorHarness.StartAsync(backend, o => o.MaxConnectionAge = TimeSpan.FromSeconds(3));
        await using var dataSource = harness.Build("Connection Lifetime=1;Max Pool Size=4");
        int operations = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var until = DateTime.UtcNow.AddSeconds(8);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (DateTime.UtcNow < until)
            {
                try
                {
                    await using var connection = await dataSource.OpenConnectionAsync();
                    Assert.Equal(1, await ScalarAsync<int>(connection, "SELECT 1"));
                    Interlocked.Increment(ref operations);
                }
                catch (Exception ex)
                {
                    failures.Add(ex);
                }
                await Task.Delay(20);
            }
        }));
        Assert.Empty(failures);
        Assert.True(operations > 100, $"only {operations} operations ran");
    }

    [Fact]
    public async Task A_connection_storm_larger_than_the_burst_causes_no_53400()
    {
        // DSQL's shape, shrunk: burst 20, 10/s, the same numbers on both sides.
        await using var harness = await ConnectorHarness.StartAsync(backend, o => { o.ConnectionBurst = 20; o.ConnectionRatePerSecond = 10; });
        await using var dataSource = harness.Build("Connection Burst=20;Connection Rate Per Second=10;Pooling=false;Connect Retries=0;Timeout=30");
        var connections = await Task.WhenAll(Enumerable.Range(0, 45).Select(async _ => await dataSource.OpenConnectionAsync()));
        try
        {
            Assert.Equal(45, connections.Length);
            Assert.All(connections, c => Assert.Equal(System.Data.ConnectionState.Open, c.State));
            Assert.Contains(harness.Logs.Lines, line => line.Contains("waited", StringComparison.Ordinal)); // the bucket did make connects wait
        }
        finally
        {
            foreach (var connection in connections) await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task Single_connection_opens_wait_for_their_permit_before_the_socket_opens()
    {
        // The last of 20 opens waits about 3 s for its permit; the server drops a connection that has not sent its
        // token within 1 s. A connect that waited while connected would be cut and retried.
        await using var harness = await ConnectorHarness.StartAsync(backend, o =>
        {
            o.ConnectionBurst = 5;
            o.ConnectionRatePerSecond = 5;
            o.HandshakeTimeout = TimeSpan.FromSeconds(1);
        });
        await using var dataSource = harness.Build("Connection Burst=5;Connection Rate Per Second=5;Pooling=false;Timeout=30");
        var connections = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ => await dataSource.OpenConnectionAsync()));
        try
        {
            Assert.All(connections, c => Assert.Equal(System.Data.ConnectionState.Open, c.State));
            Assert.Contains(harness.Logs.Lines, line => line.Contains("waited", StringComparison.Ordinal));
            Assert.DoesNotContain(harness.Logs.Lines, line => line.Contains("retry", StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            foreach (var connection in connections) await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_single_connection_open_that_cannot_get_a_permit_in_time_says_so()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build("Connection Burst=1;Connection Rate Per Second=0.2;Pooling=false;Timeout=1;Connect Retries=0");
        await using (var first = await dataSource.OpenConnectionAsync())
        {
        }
        var failure = await Assert.ThrowsAsync<DsqlConnectTimeoutException>(async () => await dataSource.OpenConnectionAsync());
        Assert.IsType<TimeoutException>(failure.InnerException);
        Assert.Equal(DsqlConnectPhase.ConnectPermit, failure.Phase);
        Assert.Contains("connect permit", failure.Message, StringComparison.Ordinal);
        Assert.Contains("Timeout of 1 s", failure.Message, StringComparison.Ordinal);
        Assert.Equal(DsqlConnectPhase.ConnectPermit, Assert.Throws<DsqlConnectTimeoutException>(() => dataSource.OpenConnection()).Phase); // the synchronous path alike
    }

    [Fact]
    public async Task A_single_connection_open_whose_token_cannot_be_signed_gives_its_permit_back()
    {
        // One permit, the next one 5 s away: an open that kept its reservation would make the next open time out
        // waiting for a permit instead of failing on its own credentials.
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Builder("Connection Burst=1;Connection Rate Per Second=0.2;Pooling=false;Timeout=2;Connect Retries=0", new SlowlyFailingCredentials()).Build();
        for (int i = 0; i < 2; i++)
        {
            var failure = await Assert.ThrowsAnyAsync<Exception>(async () => await dataSource.OpenConnectionAsync());
            Assert.Contains(SlowlyFailingCredentials.Message, failure.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("connect permit", failure.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>Credentials whose asynchronous fetch fails after a moment (so the token is still pending when the permit step runs).</summary>
    private sealed class SlowlyFailingCredentials : AWSCredentials
    {
        public const string Message = "no credentials here (test)";

        public override ImmutableCredentials GetCredentials() => throw new InvalidOperationException(Message);

        public override async Task<ImmutableCredentials> GetCredentialsAsync()
        {
            await Task.Delay(50);
            throw new InvalidOperationException(Message);
        }
    }

    [Fact]
    public async Task Throttled_connects_are_retried_until_they_succeed()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build("Pooling=false");
        harness.Emulator.Faults.RefuseNextConnections(2, "53400");
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await ScalarAsync<int>(connection, "SELECT 1"));
        Assert.Equal(2, harness.Logs.Lines.Count(l => l.Contains("53400", StringComparison.Ordinal) && l.Contains("retry", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Too_many_connections_is_retried_and_then_reported()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build("Pooling=false;Connect Retries=2");
        harness.Emulator.Faults.RefuseNextConnections(10, "53300");
        var ex = await Assert.ThrowsAsync<PostgresException>(async () => await dataSource.OpenConnectionAsync());
        Assert.Equal("53300", ex.SqlState);
        Assert.Equal(2, harness.Logs.Lines.Count(l => l.Contains("53300", StringComparison.Ordinal) && l.Contains("retry", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_refused_token_is_retried_once_fresh_then_reported_with_the_iam_action()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var wrong = new BasicAWSCredentials(TestTokens.AccessKeyId, "not-the-secret");
        await using var dataSource = harness.Builder("Pooling=false", wrong).Build();
        var ex = await Assert.ThrowsAsync<DsqlAuthenticationException>(async () => await dataSource.OpenConnectionAsync());
        Assert.Equal("admin", ex.User);
        Assert.Equal("dsql:DbConnectAdmin", ex.RequiredIamAction);
        Assert.Contains("dsql:DbConnectAdmin", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'admin'", ex.Message, StringComparison.Ordinal);
        Assert.Equal("28000", Assert.IsType<PostgresException>(ex.InnerException).SqlState);
        Assert.Single(harness.Logs.Lines, l => l.Contains("freshly signed token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_token_never_appears_in_logs_or_exception_text()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build("Pooling=false");
        await (await dataSource.OpenConnectionAsync()).DisposeAsync();
        string token = await dataSource.TokenProvider.GetTokenAsync(dataSource.Endpoint, dataSource.Region, "admin");

        await using var refused = harness.Builder("Pooling=false", new BasicAWSCredentials(TestTokens.AccessKeyId, "wrong")).Build();
        var ex = await Assert.ThrowsAsync<DsqlAuthenticationException>(async () => await refused.OpenConnectionAsync());

        string everything = harness.Logs.All + ex + dataSource.ConnectionString + dataSource.TokenProvider + dataSource.NpgsqlDataSource.ConnectionString;
        Assert.NotEmpty(harness.Logs.Lines);
        Assert.DoesNotContain(token, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Amz-Signature", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Amz-Credential", everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_root_certificate_is_refused()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var other = await backend.StartEmulatorAsync(); // another emulator: another CA
        string connectionString = harness.ConnectionString().Replace(harness.Endpoint.CaCertificatePath, other.CaCertificatePath, StringComparison.Ordinal);
        await using var dataSource = new DsqlDataSourceBuilder(connectionString + ";Connect Retries=0")
            .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret)).Build();
        var ex = await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await dataSource.OpenConnectionAsync());
        Assert.IsNotType<PostgresException>(ex);
    }

    [Fact]
    public async Task A_certificate_for_another_host_name_is_refused()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        // The emulator's certificate does not name this endpoint: verify-full must refuse it.
        string connectionString = $"Host={ConnectorHarness.UniqueClusterId()}.dsql.us-east-1.on.aws;Host Address=127.0.0.1;Port={harness.Endpoint.Port};Root Certificate={harness.Endpoint.CaCertificatePath};Connect Retries=0";
        await using var dataSource = new DsqlDataSourceBuilder(connectionString)
            .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret)).Build();
        var ex = await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await dataSource.OpenConnectionAsync());
        Assert.IsNotType<PostgresException>(ex);
    }

    [Fact]
    public async Task Weaker_tls_needs_an_explicit_insecure_opt_out_and_is_logged()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var refused = Assert.Throws<DsqlConfigurationException>(() => harness.Build("SSL Mode=Require"));
        Assert.Contains("SSL Mode", refused.Message, StringComparison.OrdinalIgnoreCase);

        await using var dataSource = harness.Build("SSL Mode=Require;Allow Insecure Tls=true");
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await ScalarAsync<int>(connection, "SELECT 1"));
        Assert.Contains(harness.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("not verify-full", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sync_open_works_too()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        using var connection = dataSource.OpenConnection();
        Assert.Equal(1, (int)new NpgsqlCommand("SELECT 1", connection).ExecuteScalar()!);
    }

    [Fact]
    public async Task Sync_open_retries_throttled_connects_and_a_refused_token_too()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build("Pooling=false");
        harness.Emulator.Faults.RefuseNextConnections(2, "53400");
        using (var connection = dataSource.OpenConnection())
            Assert.Equal(1, (int)new NpgsqlCommand("SELECT 1", connection).ExecuteScalar()!);
        Assert.Equal(2, harness.Logs.Lines.Count(l => l.Contains("53400", StringComparison.Ordinal) && l.Contains("retry", StringComparison.Ordinal)));

        await using var refused = harness.Builder("Pooling=false", new BasicAWSCredentials(TestTokens.AccessKeyId, "wrong")).Build();
        var ex = Assert.Throws<DsqlAuthenticationException>(() => refused.OpenConnection());
        Assert.Equal("dsql:DbConnectAdmin", ex.RequiredIamAction);
    }
}
