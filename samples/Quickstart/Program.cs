// A scripted session against the local DSQL emulator: what a DSQL client sees, step by step.
// Tokens are signed with the AWS SDK's own SigV4 presigner, exactly as for a real cluster.
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using Dsql.Emulator;
using Npgsql;

if (Environment.GetEnvironmentVariable("DSQL_ENDPOINT") is { Length: > 0 } realEndpoint)
    Console.WriteLine($"DSQL_ENDPOINT is set ({realEndpoint}), but talking to a real cluster needs the Dsql.Connector package, which is not built yet; using the local emulator.");

Console.WriteLine("Starting the local DSQL emulator (a throwaway PostgreSQL behind a DSQL front end)...");
var started = System.Diagnostics.Stopwatch.StartNew();
await using var emulator = await DsqlEmulator.StartAsync();
var endpoint = emulator.Endpoints[0];
Console.WriteLine($"  ready in {started.ElapsedMilliseconds} ms: {endpoint.Host} ({endpoint.Region}) at {endpoint.ListenAddress}:{endpoint.Port}");
Console.WriteLine($"  CA certificate for verify-full: {endpoint.CaCertificatePath}");

string Token(string user, string host, string region, DateTimeOffset? at = null, int expiresSeconds = 900)
{
    var request = new AWSSigningRequest
    {
        HttpMethod = HttpMethod.Get,
        RequestUri = new Uri($"https://{host}/?Action={(user == "admin" ? "DbConnectAdmin" : "DbConnect")}"),
    };
    var parameters = new AWSSigV4Parameters
    {
        Credentials = new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey),
        Region = RegionEndpoint.GetBySystemName(region),
        Service = "dsql",
        SignedAt = (at ?? DateTimeOffset.UtcNow).UtcDateTime,
    };
    return AWSSigV4Signer.Presign(request, parameters, TimeSpan.FromSeconds(expiresSeconds)).Uri.AbsoluteUri["https://".Length..];
}

async Task<NpgsqlConnection> Open(string token, string user = "admin")
{
    var connection = new NpgsqlConnection(endpoint.NpgsqlConnectionString(user, token));
    await connection.OpenAsync();
    return connection;
}

async Task Step(string title, Func<Task<string>> action)
{
    Console.Write($"- {title}: ");
    try
    {
        Console.WriteLine(await action());
    }
    catch (PostgresException ex)
    {
        Console.WriteLine($"{ex.SqlState} {ex.MessageText}");
    }
}

await using var admin = await Open(Token("admin", endpoint.Host, endpoint.Region));
Console.WriteLine("Connected as admin with an IAM token over verify-full TLS (direct negotiation).");

await Step("server", async () => (string)(await new NpgsqlCommand("SELECT current_database() || ' on ' || version()", admin).ExecuteScalarAsync())!);
await Step("create a table", async () =>
{
    await new NpgsqlCommand("CREATE TABLE IF NOT EXISTS quickstart_accounts (id int PRIMARY KEY, balance int NOT NULL)", admin).ExecuteNonQueryAsync();
    return "ok";
});
await Step("insert two rows", async () =>
{
    await new NpgsqlCommand("DELETE FROM quickstart_accounts", admin).ExecuteNonQueryAsync();
    int rows = await new NpgsqlCommand("INSERT INTO quickstart_accounts VALUES (1, 100), (2, 100)", admin).ExecuteNonQueryAsync();
    return $"{rows} rows";
});
await Step("TRUNCATE (DSQL refuses it)", async () => { await new NpgsqlCommand("TRUNCATE quickstart_accounts", admin).ExecuteNonQueryAsync(); return "accepted?"; });
await Step("SET statement_timeout (not on DSQL's list)", async () => { await new NpgsqlCommand("SET statement_timeout = 1000", admin).ExecuteNonQueryAsync(); return "accepted?"; });
await Step("BeginTransaction() without a level (Npgsql sends READ COMMITTED)", async () =>
{
    await using var connection = await Open(Token("admin", endpoint.Host, endpoint.Region));
    await using var tx = await connection.BeginTransactionAsync();
    await new NpgsqlCommand("SELECT 1", connection, tx).ExecuteScalarAsync();
    return "accepted?";
});
await Step("3,001 rows in one transaction (cap is 3,000)", async () =>
{
    await new NpgsqlCommand("CREATE TABLE IF NOT EXISTS quickstart_bulk (id int)", admin).ExecuteNonQueryAsync();
    await new NpgsqlCommand("INSERT INTO quickstart_bulk SELECT generate_series(1, 3001)", admin).ExecuteNonQueryAsync();
    return "accepted?";
});
await Step("optimistic concurrency: two writers, one row", async () =>
{
    await using var other = await Open(Token("admin", endpoint.Host, endpoint.Region));
    await using var first = await admin.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
    await new NpgsqlCommand("UPDATE quickstart_accounts SET balance = balance - 10 WHERE id = 1", admin, first).ExecuteNonQueryAsync();
    await using var second = await other.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
    try
    {
        await new NpgsqlCommand("UPDATE quickstart_accounts SET balance = balance + 10 WHERE id = 1", other, second).ExecuteNonQueryAsync();
        await second.CommitAsync();
        return "both committed?";
    }
    catch (PostgresException ex)
    {
        await first.CommitAsync();
        return $"first committed, second failed with {ex.SqlState} {ex.MessageText}: retry the whole transaction";
    }
});
await Step("token signed for another Region", async () => { await using var c = await Open(Token("admin", endpoint.Host, "eu-west-1")); return "accepted?"; });
await Step("token that expired", async () => { await using var c = await Open(Token("admin", endpoint.Host, endpoint.Region, DateTimeOffset.UtcNow.AddHours(-1))); return "accepted?"; });
await Step("DbConnect token for admin", async () =>
{
    await using var c = await Open(Token("app", endpoint.Host, endpoint.Region), "admin");
    return "accepted?";
});
Console.WriteLine($"Done. Open sessions now: {emulator.OpenSessionCount}. Stopping the emulator.");
