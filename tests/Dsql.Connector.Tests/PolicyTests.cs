using Amazon.Runtime;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>The policies DsqlDataSourceBuilder imposes on the inner Npgsql data source.</summary>
public sealed class PolicyTests
{
    private const string Endpoint = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private static readonly AWSCredentials Credentials = new BasicAWSCredentials("AKIAIOSFODNN7EXAMPLE", "secret");

    private static NpgsqlConnectionStringBuilder Inner(string connectionString, Action<DsqlDataSourceBuilder>? configure = null)
    {
        var builder = new DsqlDataSourceBuilder(connectionString).UseCredentials(Credentials);
        configure?.Invoke(builder);
        using var dataSource = builder.Build();
        return new NpgsqlConnectionStringBuilder(dataSource.NpgsqlDataSource.ConnectionString);
    }

    [Fact]
    public void Pool_resets_nothing_enlists_nothing_and_never_retries_a_refused_startup()
    {
        var inner = Inner($"Host={Endpoint}");
        Assert.True(inner.NoResetOnClose);
        Assert.False(inner.Enlist);
        Assert.Equal(GssEncryptionMode.Disable, inner.GssEncryptionMode);
        Assert.Equal(Endpoint, inner.Host);
        Assert.Equal(5432, inner.Port);
        Assert.Equal("postgres", inner.Database);
        Assert.Equal("admin", inner.Username);
        Assert.Null(inner.Password);
    }

    [Fact]
    public void Tls_is_verify_full_with_direct_negotiation()
    {
        var inner = Inner($"Host={Endpoint}");
        Assert.Equal(SslMode.VerifyFull, inner.SslMode);
        Assert.Equal(SslNegotiation.Direct, inner.SslNegotiation);
    }

    [Fact]
    public void A_user_callback_cannot_weaken_the_security_settings()
    {
        var inner = Inner($"Host={Endpoint}", b => b.ConfigureNpgsql(npgsql =>
        {
            npgsql.ConnectionStringBuilder.SslMode = SslMode.Disable;
            npgsql.ConnectionStringBuilder.NoResetOnClose = false;
            npgsql.ConnectionStringBuilder.Enlist = true;
            npgsql.ConnectionStringBuilder.Password = "static";
            npgsql.ConnectionStringBuilder.ConnectionLifetime = 7200;
        }));
        Assert.Equal(SslMode.VerifyFull, inner.SslMode);
        Assert.True(inner.NoResetOnClose);
        Assert.False(inner.Enlist);
        Assert.Null(inner.Password);
        Assert.True(inner.ConnectionLifetime <= 54 * 60);
    }

    [Fact]
    public void Default_lifetime_leaves_room_for_the_longest_transaction_and_is_spread_across_data_sources()
    {
        var lifetimes = Enumerable.Range(0, 40).Select(_ => Inner($"Host={Endpoint}").ConnectionLifetime).ToList();
        // Rented just before expiry and then held for DSQL's 5-minute transaction cap, a connection still ends by minute 59.
        Assert.All(lifetimes, l => Assert.InRange(l, 50 * 60, 54 * 60));
        Assert.True(lifetimes.Distinct().Count() > 5, "every data source picked the same lifetime: a fleet would reconnect together");
    }

    [Fact]
    public void An_explicit_lifetime_is_kept()
        => Assert.Equal(600, Inner($"Host={Endpoint};Connection Lifetime=600").ConnectionLifetime);

    [Fact]
    public void Pool_sizes_timeouts_and_application_name_pass_through()
    {
        var inner = Inner($"Host={Endpoint};Maximum Pool Size=7;Minimum Pool Size=2;Connection Idle Lifetime=120;Timeout=9;Command Timeout=11");
        Assert.Equal(7, inner.MaxPoolSize);
        Assert.Equal(2, inner.MinPoolSize);
        Assert.Equal(120, inner.ConnectionIdleLifetime);
        Assert.Equal(9, inner.Timeout);
        Assert.Equal(11, inner.CommandTimeout);
        Assert.StartsWith("Dsql.Connector/", inner.ApplicationName);
    }

    [Fact]
    public void Tunnel_connects_to_the_host_address()
        => Assert.Equal("127.0.0.1", Inner($"Host={Endpoint};Host Address=127.0.0.1;Port=6543").Host);

    [Fact]
    public void Connection_string_of_the_data_source_names_the_endpoint_and_no_secret()
    {
        using var dataSource = new DsqlDataSourceBuilder($"Host={Endpoint};Profile=dev").UseCredentials(Credentials).Build();
        Assert.Contains(Endpoint, dataSource.ConnectionString, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", dataSource.ConnectionString, StringComparison.Ordinal);
        Assert.DoesNotContain("Password", dataSource.ConnectionString, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("53400", true)]
    [InlineData("53300", true)]
    [InlineData("28000", false)]
    [InlineData("42601", false)]
    public void Retry_policy_handles_throttling_but_not_auth_or_sql_errors(string sqlState, bool retryable)
    {
        var ex = new PostgresException("message", "FATAL", "FATAL", sqlState);
        Assert.Equal(retryable, DsqlDataSource.IsRetryable(ex));
    }

    [Fact]
    public void Network_failures_are_retryable()
        => Assert.True(DsqlDataSource.IsRetryable(new NpgsqlException("boom", new System.Net.Sockets.SocketException())));
}
