using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>DSQL-style IAM authentication through the emulator, with tokens signed by the AWS SDK's presigner.</summary>
[Collection(BackendCollection.Name)]
public sealed class AuthenticationTests(BackendFixture backend)
{
    private static async Task<PostgresException> RefusedAsync(DsqlEmulator emulator, string token, string user = "admin")
    {
        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, user, token: token));
        Assert.Equal("28000", ex.SqlState);
        Assert.DoesNotContain("X-Amz-Signature", ex.MessageText, StringComparison.Ordinal);
        Assert.DoesNotContain(token, ex.MessageText, StringComparison.Ordinal);
        return ex;
    }

    [Fact]
    public async Task Valid_admin_token_is_accepted()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await using var command = new NpgsqlCommand("SELECT current_user", connection);
        Assert.Equal("admin", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Valid_token_for_a_custom_role_uses_DbConnect()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string role = EmulatorConnections.UniqueName("app");
        await using (var admin = await EmulatorConnections.OpenAsync(emulator))
            await new NpgsqlCommand($"CREATE ROLE {role} WITH LOGIN", admin).ExecuteNonQueryAsync();
        await using var connection = await EmulatorConnections.OpenAsync(emulator, role);
        Assert.Equal(role, await new NpgsqlCommand("SELECT current_user", connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Expired_token_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", emulator.Clock.GetUtcNow().AddMinutes(-20), expiresSeconds: 900);
        var ex = await RefusedAsync(emulator, token);
        Assert.Contains("expired", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_expires_when_the_emulator_clock_moves_past_its_lifetime()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", emulator.Clock.GetUtcNow(), expiresSeconds: 60);
        await (await EmulatorConnections.OpenAsync(emulator, token: token)).DisposeAsync();
        emulator.Faults.AdvanceClock(TimeSpan.FromSeconds(61));
        var ex = await RefusedAsync(emulator, token);
        Assert.Contains("expired", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tampered_signature_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        string token = TestTokens.For(emulator, emulator.Endpoints[0]);
        int at = token.IndexOf("X-Amz-Signature=", StringComparison.Ordinal) + "X-Amz-Signature=".Length;
        string tampered = token[..at] + (token[at] == 'a' ? 'b' : 'a') + token[(at + 1)..];
        var ex = await RefusedAsync(emulator, tampered);
        Assert.Contains("signature does not match", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_signed_with_a_wrong_secret_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", emulator.Clock.GetUtcNow(), secret: "not-the-secret");
        var ex = await RefusedAsync(emulator, token);
        Assert.Contains("signature does not match", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_for_another_host_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign("zzzzzzzzzzzzzzzzzzzzzzzzzz.dsql.us-east-1.on.aws", endpoint.Region, "admin", emulator.Clock.GetUtcNow());
        var ex = await RefusedAsync(emulator, token);
        Assert.Contains("signed for host 'zzzzzzzzzzzzzzzzzzzzzzzzzz.dsql.us-east-1.on.aws'", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_for_another_region_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign(endpoint.Host, "eu-west-1", "admin", emulator.Clock.GetUtcNow());
        var ex = await RefusedAsync(emulator, token);
        Assert.Contains("region 'eu-west-1'", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DbConnect_token_for_admin_is_rejected_naming_the_permission()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", emulator.Clock.GetUtcNow(), action: "DbConnect");
        var ex = await RefusedAsync(emulator, token);
        Assert.Contains("dsql:DbConnectAdmin", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DbConnectAdmin_token_for_another_user_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign(endpoint.Host, endpoint.Region, "reader", emulator.Clock.GetUtcNow(), action: "DbConnectAdmin");
        var ex = await RefusedAsync(emulator, token, "reader");
        Assert.Contains("dsql:DbConnect)", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_access_key_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string token = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", emulator.Clock.GetUtcNow(), accessKeyId: "AKIAUNKNOWNKEY000000");
        var ex = await RefusedAsync(emulator, token);
        Assert.Contains("AKIAUNKNOWNKEY000000", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Temporary_credentials_need_their_session_token()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.AccessKeys.Add(new EmulatorAccessKey("ASIATEMPORARYKEY0000", "temp-secret", "session-token-value")));
        var endpoint = emulator.Endpoints[0];
        var now = emulator.Clock.GetUtcNow();
        string withSession = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", now, accessKeyId: "ASIATEMPORARYKEY0000", secret: "temp-secret", sessionToken: "session-token-value");
        await (await EmulatorConnections.OpenAsync(emulator, token: withSession)).DisposeAsync();

        string without = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", now, accessKeyId: "ASIATEMPORARYKEY0000", secret: "temp-secret");
        var ex = await RefusedAsync(emulator, without);
        Assert.Contains("session token", ex.MessageText, StringComparison.Ordinal);
        Assert.DoesNotContain("session-token-value", ex.MessageText, StringComparison.Ordinal);

        string wrong = TestTokens.Sign(endpoint.Host, endpoint.Region, "admin", now, accessKeyId: "ASIATEMPORARYKEY0000", secret: "temp-secret", sessionToken: "another-session-token");
        ex = await RefusedAsync(emulator, wrong);
        Assert.Contains("session token", ex.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_password_that_is_not_a_token_is_rejected()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        var ex = await RefusedAsync(emulator, "hunter2");
        Assert.Contains("not a DSQL authentication token", ex.MessageText, StringComparison.Ordinal);
    }
}
