using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>
/// DSQL's advice for plain Npgsql code (<c>ex.ToDsqlException()</c>, <c>ex.TryGetDsqlException(out ...)</c>) and
/// credential failures surfacing with their explanation on top, against the emulator: real TLS, real Npgsql.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class DsqlExceptionExtensionsTests(BackendFixture backend)
{
    /// <summary>Temporary credentials that expired a minute ago on the emulator's clock: no token can be signed with them.</summary>
    private static SessionAWSCredentials ExpiredCredentials(ConnectorHarness harness) =>
        new(TestTokens.AccessKeyId, TestTokens.Secret, "FwoGZXIvYXdzEXAMPLEsessiontoken")
        {
            Expiration = harness.Emulator.Clock.GetUtcNow().AddMinutes(-1).UtcDateTime,
        };

    /// <summary>A plain Npgsql data source for the emulator's endpoint whose password provider signs with <paramref name="generator"/>.</summary>
    private static NpgsqlDataSource PlainNpgsql(ConnectorHarness harness, DsqlTokenGenerator generator)
    {
        var endpoint = harness.Endpoint;
        var settings = new NpgsqlConnectionStringBuilder(endpoint.NpgsqlConnectionString("admin", "unused")) { Password = null };
        var builder = new NpgsqlDataSourceBuilder(settings.ConnectionString);
        builder.UsePasswordProvider(
            _ => generator.GenerateToken(endpoint.Host, endpoint.Region, "admin"),
            (_, cancellationToken) => generator.GenerateTokenAsync(endpoint.Host, endpoint.Region, "admin", cancellationToken: cancellationToken));
        return builder.Build();
    }

    private static void AssertExpiredCredentialsExplanation(Exception surfaced)
    {
        var credentials = Assert.IsType<DsqlCredentialsException>(surfaced);
        Assert.StartsWith("The AWS credentials used to sign DSQL tokens expired at ", credentials.Message);
        Assert.Contains("aws sso login", credentials.Message);
        Assert.DoesNotContain(TestTokens.Secret, credentials.Message);
        Assert.DoesNotContain("FwoGZXIvYXdzEXAMPLEsessiontoken", credentials.Message);
        Assert.False(credentials.IsTransient);
    }

    [Fact]
    public async Task A_credentials_failure_in_a_plain_Npgsql_password_provider_is_unwrapped_async_and_sync()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var generator = new DsqlTokenGenerator(ExpiredCredentials(harness), harness.Emulator.Clock);
        await using var dataSource = PlainNpgsql(harness, generator);

        // Npgsql buries the explanation: its own exception, with ours inside.
        var wrapped = await Assert.ThrowsAsync<NpgsqlException>(() => dataSource.OpenConnectionAsync().AsTask());
        Assert.IsNotType<DsqlCredentialsException>(wrapped);
        Assert.IsType<DsqlCredentialsException>(wrapped.InnerException);

        AssertExpiredCredentialsExplanation(wrapped.ToDsqlException());
        Assert.True(wrapped.TryGetDsqlException(out var dsql));
        Assert.Same(wrapped.InnerException, dsql);

        var wrappedSync = Assert.Throws<NpgsqlException>(() => dataSource.OpenConnection());
        AssertExpiredCredentialsExplanation(wrappedSync.ToDsqlException());
        AssertExpiredCredentialsExplanation(DsqlErrors.UnwrapOpenFailure(wrappedSync));
    }

    [Fact]
    public async Task A_credentials_failure_behind_a_DsqlDataSource_open_is_reachable_with_ToDsqlException()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Builder(credentials: ExpiredCredentials(harness)).Build();

        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(() => dataSource.OpenConnectionAsync().AsTask());
        AssertExpiredCredentialsExplanation(failure.ToDsqlException());
        AssertExpiredCredentialsExplanation(DsqlErrors.UnwrapOpenFailure(failure));

        var syncFailure = Assert.ThrowsAny<NpgsqlException>(() => dataSource.OpenConnection());
        AssertExpiredCredentialsExplanation(syncFailure.ToDsqlException());
    }

    [Fact]
    public async Task A_credentials_failure_reaches_the_caller_of_the_data_source_with_its_explanation_on_top()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Builder(credentials: ExpiredCredentials(harness)).Build();

        AssertExpiredCredentialsExplanation(await Assert.ThrowsAnyAsync<Exception>(() => dataSource.OpenConnectionAsync().AsTask()));
        AssertExpiredCredentialsExplanation(Assert.ThrowsAny<Exception>(() => dataSource.OpenConnection()));
        AssertExpiredCredentialsExplanation(await Assert.ThrowsAnyAsync<Exception>(
            () => dataSource.ExecuteInTransactionAsync(async (connection, cancellationToken) =>
            {
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(cancellationToken);
            })));
    }

    [Fact]
    public async Task An_unsupported_feature_met_by_a_plain_command_carries_DSQLs_advice()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("CREATE TEMPORARY TABLE scratch (id bigint PRIMARY KEY)", connection);

        NpgsqlException? dsql = null;
        try
        {
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException ex) when (ex.TryGetDsqlException(out dsql))
        {
        }

        var unsupported = Assert.IsType<DsqlUnsupportedFeatureException>(dsql);
        Assert.Equal("0A000", unsupported.SqlState);
        Assert.Contains("temporary", unsupported.Advice, StringComparison.OrdinalIgnoreCase);
        Assert.IsType<PostgresException>(unsupported.InnerException);
    }

    [Fact]
    public async Task A_quota_error_met_by_a_plain_command_names_the_limit()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend, options => options.MaxRowsPerTransaction = 2);
        await using var dataSource = harness.Build();
        string table = EmulatorConnections.UniqueName("rows");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {table} (id bigint PRIMARY KEY)");
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand($"INSERT INTO {table} SELECT g FROM generate_series(1, 3) AS g", connection);

        var server = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());

        var limit = Assert.IsType<DsqlLimitExceededException>(server.ToDsqlException());
        Assert.Equal(DsqlLimit.RowsPerTransaction, limit.Limit);
        Assert.Same(server, limit.InnerException);
    }

    [Fact]
    public async Task Errors_without_DSQL_advice_are_left_alone()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        await using var dataSource = harness.Build();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT * FROM no_such_table_anywhere", connection);

        var server = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());

        Assert.Equal("42P01", server.SqlState);
        Assert.Same(server, server.ToDsqlException());
        Assert.False(server.TryGetDsqlException(out var dsql));
        Assert.Null(dsql);
        Assert.Same(server, DsqlErrors.UnwrapOpenFailure(server));
    }

    [Fact]
    public void Only_a_credentials_failure_inside_a_plain_NpgsqlException_is_unwrapped()
    {
        var credentials = new DsqlCredentialsException("no credentials");
        Assert.Same(credentials, new NpgsqlException("An exception was thrown from the password provider", credentials).ToDsqlException());
        Assert.Same(credentials, new NpgsqlException("wrapped", new AggregateException(credentials)).ToDsqlException());
        Assert.Same(credentials, credentials.ToDsqlException());
        Assert.False(credentials.TryGetDsqlException(out _));

        var unrelated = new NpgsqlException("Exception while reading from stream", new IOException("reset"));
        Assert.Same(unrelated, unrelated.ToDsqlException());
        Assert.Same(unrelated, DsqlErrors.UnwrapOpenFailure(unrelated));
        var timeout = new TimeoutException("slow");
        Assert.Same(timeout, DsqlErrors.UnwrapOpenFailure(timeout));
        Assert.Throws<ArgumentNullException>(() => DsqlExceptionExtensions.ToDsqlException(null!));
    }
}
