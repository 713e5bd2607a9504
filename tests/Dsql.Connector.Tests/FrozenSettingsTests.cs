using System.Diagnostics;
using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>Build() copies the settings: nothing done to the builder or its settings afterwards changes a built data source.</summary>
[Collection(BackendCollection.Name)]
public sealed class FrozenSettingsTests(BackendFixture backend)
{
    [Fact]
    public async Task Changing_the_builders_settings_after_Build_changes_nothing_observable()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var builder = harness.Builder("Timeout=2;Maximum Pool Size=3;Application Name=frozen-app");
        await using var dataSource = builder.Build();
        string connectionString = dataSource.ConnectionString, npgsqlConnectionString = dataSource.NpgsqlDataSource.ConnectionString;
        string endpoint = dataSource.Endpoint, region = dataSource.Region;

        var settings = builder.Settings;
        settings.Host = $"{ConnectorHarness.UniqueClusterId()}.dsql.eu-west-1.on.aws";
        settings.HostAddress = "192.0.2.1";
        settings.Port = 1;
        settings.Pooling = false;
        settings.Timeout = 30;
        settings.MaxPoolSize = 1;
        settings.Username = "someone_else";
        settings.ApplicationName = "changed";
        settings.ConnectRetries = 0;
        settings.Set("Keepalive", "7");
        builder.ConfigureNpgsql(npgsql => npgsql.ConnectionStringBuilder.ApplicationName = "changed-by-callback");
        builder.UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, "not-the-secret"));

        Assert.Equal(connectionString, dataSource.ConnectionString);
        Assert.Equal(npgsqlConnectionString, dataSource.NpgsqlDataSource.ConnectionString);
        Assert.Equal(endpoint, dataSource.Endpoint);
        Assert.Equal(region, dataSource.Region);
        Assert.Contains("frozen-app", dataSource.ConnectionString, StringComparison.Ordinal);
        Assert.DoesNotContain("Keepalive", dataSource.ConnectionString, StringComparison.OrdinalIgnoreCase);

        // Behaviour too: the same host, user, credentials, application name and pool as at Build.
        int firstPid;
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal("admin", await new NpgsqlCommand("SELECT current_user", connection).ExecuteScalarAsync());
            Assert.Equal("frozen-app", await new NpgsqlCommand("SELECT current_setting('application_name')", connection).ExecuteScalarAsync());
            firstPid = connection.ProcessID;
        }
        await using (var connection = await dataSource.OpenConnectionAsync())
            Assert.Equal(firstPid, connection.ProcessID); // still pooled

        // Maximum Pool Size is still 3 (not 1): three connections at once.
        var three = new List<NpgsqlConnection>();
        try
        {
            for (int i = 0; i < 3; i++) three.Add(await dataSource.OpenConnectionAsync());
        }
        finally
        {
            foreach (var connection in three) await connection.DisposeAsync();
        }

        // Timeout is still 2 s (not 30): a stalled open gives up within 3 s.
        harness.Emulator.Faults.StallHandshakes(HandshakeStall.AfterPassword);
        dataSource.NpgsqlDataSource.Clear();
        var started = Stopwatch.StartNew();
        var timeout = await Assert.ThrowsAsync<DsqlConnectTimeoutException>(async () => await dataSource.OpenConnectionAsync());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"the open took {started.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(TimeSpan.FromSeconds(2), timeout.Budget);
    }

    [Fact]
    public async Task Settings_passed_to_the_builder_are_copied_at_Build_not_kept()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var settings = new DsqlConnectionStringBuilder(harness.ConnectionString("Pooling=false"));
        await using var dataSource = new DsqlDataSourceBuilder(settings)
            .UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret))
            .UseTimeProvider(harness.Emulator.Clock)
            .Build();
        string before = dataSource.ConnectionString;
        settings.Pooling = true;
        settings.Database = "elsewhere";
        settings.Set("Host", $"{ConnectorHarness.UniqueClusterId()}.dsql.us-east-1.on.aws");
        Assert.Equal(before, dataSource.ConnectionString);
        Assert.Contains("Pooling=false", before, StringComparison.OrdinalIgnoreCase);

        int firstPid;
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal("postgres", connection.Database);
            firstPid = connection.ProcessID;
        }
        await using (var connection = await dataSource.OpenConnectionAsync())
            Assert.NotEqual(firstPid, connection.ProcessID); // still not pooled: every open is a new session
    }

    [Fact]
    public async Task Two_data_sources_built_from_one_builder_are_independent()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var builder = harness.Builder("Application Name=first");
        await using var first = builder.Build();
        builder.Settings.ApplicationName = "second";
        await using var second = builder.Build();
        Assert.Contains("first", first.ConnectionString, StringComparison.Ordinal);
        Assert.Contains("second", second.ConnectionString, StringComparison.Ordinal);
        await using var connection = await first.OpenConnectionAsync();
        Assert.Equal("first", await new NpgsqlCommand("SELECT current_setting('application_name')", connection).ExecuteScalarAsync());
    }
}
