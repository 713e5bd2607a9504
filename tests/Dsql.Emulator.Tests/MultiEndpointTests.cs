using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>Several endpoints over one backend: a multi-Region cluster, each endpoint with its own host name, Region and port.</summary>
[Collection(BackendCollection.Name)]
public sealed class MultiEndpointTests(BackendFixture backend)
{
    private const string EastOne = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string EastTwo = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-2.on.aws";

    private Task<DsqlEmulator> StartTwoEndpointsAsync() => backend.StartEmulatorAsync(o =>
    {
        o.Endpoints.Add(new EmulatorEndpoint(EastOne));
        o.Endpoints.Add(new EmulatorEndpoint(EastTwo));
    });

    [Fact]
    public async Task Each_endpoint_gets_its_own_port_and_the_region_from_its_name()
    {
        await using var emulator = await StartTwoEndpointsAsync();

        Assert.Equal(2, emulator.Endpoints.Count);
        var a = emulator.Endpoints[0];
        var b = emulator.Endpoints[1];
        Assert.Equal(EastOne, a.Host);
        Assert.Equal("us-east-1", a.Region);
        Assert.Equal(EastTwo, b.Host);
        Assert.Equal("us-east-2", b.Region);
        Assert.InRange(a.Port, 1, 65535);
        Assert.InRange(b.Port, 1, 65535);
        Assert.NotEqual(a.Port, b.Port);

        // Each endpoint answers on its own port with a token signed for its own host and Region.
        for (int i = 0; i < 2; i++)
        {
            await using var connection = await EmulatorConnections.OpenAsync(emulator, endpoint: i);
            Assert.Equal(emulator.Endpoints[i].Port, connection.Port);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
        }
    }

    [Fact]
    public async Task Data_written_through_one_endpoint_is_read_through_the_other()
    {
        await using var emulator = await StartTwoEndpointsAsync();
        string table = EmulatorConnections.UniqueName("multi_region");
        try
        {
            await using (var east1 = await EmulatorConnections.OpenAsync(emulator, endpoint: 0))
            {
                await using (var create = new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY, note text)", east1))
                    await create.ExecuteNonQueryAsync();
                await using var insert = new NpgsqlCommand($"INSERT INTO {table} VALUES (1, 'written in us-east-1'), (2, 'also us-east-1')", east1);
                Assert.Equal(2, await insert.ExecuteNonQueryAsync());
            }

            await using (var east2 = await EmulatorConnections.OpenAsync(emulator, endpoint: 1))
            {
                await using var select = new NpgsqlCommand($"SELECT note FROM {table} WHERE id = 1", east2);
                Assert.Equal("written in us-east-1", (string)(await select.ExecuteScalarAsync())!);

                await using var update = new NpgsqlCommand($"UPDATE {table} SET note = 'changed in us-east-2' WHERE id = 2", east2);
                Assert.Equal(1, await update.ExecuteNonQueryAsync());
            }

            await using (var east1 = await EmulatorConnections.OpenAsync(emulator, endpoint: 0))
            {
                await using var select = new NpgsqlCommand($"SELECT note FROM {table} WHERE id = 2", east1);
                Assert.Equal("changed in us-east-2", (string)(await select.ExecuteScalarAsync())!);
            }
        }
        finally
        {
            using var direct = backend.OpenDirect();
            using var drop = new NpgsqlCommand($"DROP TABLE IF EXISTS {table}", direct);
            drop.ExecuteNonQuery();
        }
    }

    [Fact]
    public async Task A_token_signed_for_one_endpoint_is_rejected_on_the_other_naming_the_host()
    {
        await using var emulator = await StartTwoEndpointsAsync();
        var a = emulator.Endpoints[0];
        var b = emulator.Endpoints[1];
        string tokenForA = TestTokens.Sign(a.Host, a.Region, "admin", emulator.Clock.GetUtcNow());

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, endpoint: 1, token: tokenForA));
        Assert.Equal("28000", ex.SqlState);
        Assert.Contains($"signed for host '{a.Host}'", ex.MessageText);
        Assert.Contains($"this endpoint is '{b.Host}'", ex.MessageText);

        // The same token is fine where it belongs.
        await using var connection = await EmulatorConnections.OpenAsync(emulator, endpoint: 0, token: tokenForA);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task A_token_signed_for_the_right_host_but_another_endpoints_region_is_rejected_naming_the_region()
    {
        await using var emulator = await StartTwoEndpointsAsync();
        var a = emulator.Endpoints[0];
        var b = emulator.Endpoints[1];
        string wrongRegion = TestTokens.Sign(a.Host, b.Region, "admin", emulator.Clock.GetUtcNow());

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, endpoint: 0, token: wrongRegion));
        Assert.Equal("28000", ex.SqlState);
        Assert.Contains($"signed for region '{b.Region}'", ex.MessageText);
        Assert.Contains($"region '{a.Region}'", ex.MessageText);
        Assert.DoesNotContain("signed for host", ex.MessageText);
    }

    [Fact]
    public async Task A_token_for_a_non_admin_user_is_also_bound_to_its_endpoint()
    {
        await using var emulator = await StartTwoEndpointsAsync();
        var a = emulator.Endpoints[0];
        var b = emulator.Endpoints[1];
        string tokenForA = TestTokens.Sign(a.Host, a.Region, "app_user", emulator.Clock.GetUtcNow());

        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, user: "app_user", endpoint: 1, token: tokenForA));
        Assert.Equal("28000", ex.SqlState);
        Assert.Contains($"this endpoint is '{b.Host}'", ex.MessageText);
    }

    [Fact]
    public void The_region_is_read_from_standard_and_privatelink_names()
    {
        Assert.Equal("us-east-1", EmulatorEndpoint.RegionFromHost(EastOne));
        Assert.Equal("eu-west-1", EmulatorEndpoint.RegionFromHost("abcdefghijklmnopqrstuvwxyz.dsql-fnh4.eu-west-1.on.aws"));
        Assert.Equal("ap-southeast-2", EmulatorEndpoint.RegionFromHost("ABCDEFGHIJKLMNOPQRSTUVWXYZ.DSQL.AP-SOUTHEAST-2.ON.AWS"));
        Assert.Null(EmulatorEndpoint.RegionFromHost("db.example.internal"));
        Assert.Null(EmulatorEndpoint.RegionFromHost("localhost"));
        Assert.Null(EmulatorEndpoint.RegionFromHost("abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws.example.com"));
    }

    [Fact]
    public async Task A_privatelink_style_endpoint_gets_its_region_and_accepts_tokens_for_its_name()
    {
        const string host = "abcdefghijklmnopqrstuvwxyz.dsql-fnh4.eu-west-1.on.aws";
        await using var emulator = await backend.StartEmulatorAsync(o => o.Endpoints.Add(new EmulatorEndpoint(host)));

        var endpoint = Assert.Single(emulator.Endpoints);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal("eu-west-1", endpoint.Region);

        string token = TestTokens.Sign(host, "eu-west-1", "admin", emulator.Clock.GetUtcNow());
        await using var connection = await EmulatorConnections.OpenAsync(emulator, token: token);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task An_explicit_region_is_used_for_a_name_without_one()
    {
        const string host = "db.example.internal";
        await using var emulator = await backend.StartEmulatorAsync(o => o.Endpoints.Add(new EmulatorEndpoint(host, "eu-central-1")));

        var endpoint = Assert.Single(emulator.Endpoints);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal("eu-central-1", endpoint.Region);

        string token = TestTokens.Sign(host, "eu-central-1", "admin", emulator.Clock.GetUtcNow());
        await using var connection = await EmulatorConnections.OpenAsync(emulator, token: token);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task An_endpoint_without_a_region_in_its_name_or_given_explicitly_fails_to_start()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => backend.StartEmulatorAsync(o =>
        {
            o.Endpoints.Add(new EmulatorEndpoint(EastOne));
            o.Endpoints.Add(new EmulatorEndpoint("db.example.internal"));
        }));
        Assert.Contains("'db.example.internal'", ex.Message);
        Assert.Contains("Region", ex.Message);
        Assert.DoesNotContain($"'{EastOne}'", ex.Message);
    }

    [Fact]
    public async Task Duplicate_endpoint_names_are_rejected()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => backend.StartEmulatorAsync(o =>
        {
            o.Endpoints.Add(new EmulatorEndpoint(EastOne));
            o.Endpoints.Add(new EmulatorEndpoint(EastTwo));
            o.Endpoints.Add(new EmulatorEndpoint(EastOne, port: 0));
        }));
        Assert.Contains($"'{EastOne}'", ex.Message);
        Assert.Contains("twice", ex.Message);
        Assert.DoesNotContain($"'{EastTwo}'", ex.Message);
    }

    [Fact]
    public async Task Endpoint_names_differing_only_in_case_are_duplicates()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => backend.StartEmulatorAsync(o =>
        {
            o.Endpoints.Add(new EmulatorEndpoint(EastOne));
            o.Endpoints.Add(new EmulatorEndpoint(EastOne.ToUpperInvariant()));
        }));
        Assert.Contains("twice", ex.Message);
    }
}
