// A scripted tour of Dsql.Connector: what it does for you on Aurora DSQL, step by step.
//   ./build.sh demo                              runs against a local DSQL emulator it starts
//   DSQL_ENDPOINT=<id>.dsql.<region>.on.aws ./build.sh demo   runs against your cluster (default AWS credentials;
//                                                DSQL_REGION optional); it creates and drops tables of its own
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Emulator;
using Npgsql;

var clock = Stopwatch.StartNew();
using var metrics = new ConnectorMetrics("Dsql.Connector"); // listens from the start, printed at the end

DsqlEmulator? emulator = null;
DsqlDataSource dataSource;
string? realEndpoint = Environment.GetEnvironmentVariable("DSQL_ENDPOINT") is { Length: > 0 } value ? value.Trim() : null;

Step("1. The cluster");
if (realEndpoint is null)
{
    Say("DSQL_ENDPOINT is not set: starting the local DSQL emulator (a throwaway PostgreSQL behind a DSQL front end).");
    emulator = await DsqlEmulator.StartAsync();
    var endpoint = emulator.Endpoints[0];
    Say($"ready: {endpoint.Host} ({endpoint.Region}) listening on 127.0.0.1:{endpoint.Port}.");
    Say("The connection string names the real-looking endpoint (tokens and certificate checks use it) and sends the");
    Say("traffic to 127.0.0.1 with Host Address; the emulator's own CA is the Root Certificate.");
    dataSource = new DsqlDataSourceBuilder($"Host={endpoint.Host};Host Address=127.0.0.1;Port={endpoint.Port};Root Certificate={endpoint.CaCertificatePath}")
        .UseCredentials(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey)) // the emulator accepts AWS's documented example key
        .Build();
}
else
{
    string? region = Environment.GetEnvironmentVariable("DSQL_REGION") is { Length: > 0 } r ? r.Trim() : null;
    Say($"DSQL_ENDPOINT is set: using {realEndpoint}{(region is null ? "" : $" in {region}")} with the AWS default credential chain.");
    Say("Emulator-only steps (starting it, counting its sessions) are skipped; tables this demo creates are dropped at the end.");
    dataSource = DsqlDataSource.Create($"Host={realEndpoint}" + (region is null ? "" : $";Region={region}"));
}

string suffix = Guid.NewGuid().ToString("N")[..8];
string accounts = $"quickstart_accounts_{suffix}", bulk = $"quickstart_bulk_{suffix}";
int exitCode = 0;
try
{
    await using (dataSource)
    {
        Step("2. Connecting");
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await using var command = new NpgsqlCommand("SELECT current_user || ' (server version ' || current_setting('server_version') || ')'", connection);
            Say($"connected as {await command.ExecuteScalarAsync()} to {dataSource.Endpoint} ({dataSource.Region}).");
            Say("The password was an IAM token the connector signed (SigV4, cached and refreshed ahead of expiry); TLS is");
            Say("verify-full (chain and host name checked) with direct negotiation. No secret is in the connection string:");
            Say($"  {dataSource.ConnectionString}");
        }

        Step("3. Pooling");
        Say("20 opens and closes, 5 at a time: each asks the server for its backend process id.");
        var pids = new ConcurrentBag<int>();
        for (int batch = 0; batch < 4; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
            {
                await using var connection = await dataSource.OpenConnectionAsync();
                await using var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
                pids.Add((int)(await command.ExecuteScalarAsync())!);
            }));
        }
        Say($"20 connections rented, {pids.Distinct().Count()} physical connections behind them: the others came from the pool.");
        if (emulator is not null) Say($"(the emulator counts {emulator.OpenSessionCount} open sessions: the pool keeps them for the next rent)");

        Step("4. Conflicts are retried");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {accounts} (id int PRIMARY KEY, balance int NOT NULL)");
        await dataSource.ExecuteNonQueryAsync($"INSERT INTO {accounts} VALUES (1, 100), (2, 100)");
        Say($"created {accounts} with two accounts of 100 (DDL and DML each in a transaction of its own, as DSQL requires).");
        Say("Now a transfer runs in ExecuteInTransactionAsync; during its first attempt another client updates the same row.");
        int attempts = 0;
        int result = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            attempts++;
            await using var read = new NpgsqlCommand($"SELECT balance FROM {accounts} WHERE id = 1", connection);
            int balance = (int)(await read.ExecuteScalarAsync(token))!;
            Say($"  attempt {attempts}: reads balance {balance} from its snapshot");
            if (attempts == 1)
            {
                await using var other = await dataSource.OpenConnectionAsync(token);
                await using var interfere = new NpgsqlCommand($"UPDATE {accounts} SET balance = balance + 50 WHERE id = 1", other);
                await interfere.ExecuteNonQueryAsync(token);
                Say("  attempt 1: meanwhile another client adds 50 to account 1 and commits");
            }
            Say($"  attempt {attempts}: sets account 1 to {balance} - 10 = {balance - 10}");
            await using var write = new NpgsqlCommand($"UPDATE {accounts} SET balance = {balance - 10} WHERE id = 1", connection);
            try
            {
                await write.ExecuteNonQueryAsync(token);
            }
            catch (PostgresException ex) when (ex.SqlState == "40001")
            {
                Say($"  attempt {attempts}: 40001 \"{ex.MessageText}\": rolled back; after a short backoff the whole delegate runs again");
                throw; // never swallow it: ExecuteInTransactionAsync needs to see the conflict
            }
            return balance - 10;
        });
        Say($"committed after {attempts} attempts; account 1 holds {result} (the other client's 50 was not lost).");

        Step("5. The transaction guard");
        Say("A transaction with Timeout = 1 s inserts a row, then runs pg_sleep(5).");
        var guarded = Stopwatch.StartNew();
        try
        {
            await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
            {
                await using var insert = new NpgsqlCommand($"INSERT INTO {accounts} VALUES (3, 0)", connection);
                await insert.ExecuteNonQueryAsync(token);
                await using var sleep = new NpgsqlCommand("SELECT pg_sleep(5)", connection);
                await sleep.ExecuteNonQueryAsync(token);
            }, new DsqlTransactionOptions { Timeout = TimeSpan.FromSeconds(1) });
            Say("completed?! (unexpected)");
            exitCode = 1;
        }
        catch (DsqlTransactionTimeoutException ex)
        {
            Say($"{nameof(DsqlTransactionTimeoutException)} after {guarded.Elapsed.TotalSeconds:0.0} s: {ex.Message}");
        }
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM {accounts} WHERE id = 3", connection);
            Say($"rows with id 3 afterwards: {await count.ExecuteScalarAsync()} (nothing was committed).");
        }

        Step("6. DSQL's limits as typed errors");
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {bulk} (id int PRIMARY KEY)");
        Say("inserting 3,001 rows in one transaction (DSQL allows 3,000):");
        try
        {
            await dataSource.ExecuteNonQueryAsync($"INSERT INTO {bulk} SELECT generate_series(1, 3001)");
            Say("accepted?! (unexpected)");
            exitCode = 1;
        }
        catch (DsqlLimitExceededException ex)
        {
            Say($"{nameof(DsqlLimitExceededException)}, Limit = {ex.Limit}: {ex.Message}");
        }
        int inserted = await dataSource.ExecuteNonQueryAsync($"INSERT INTO {bulk} SELECT generate_series(1, 3000)");
        Say($"the same with 3,000 rows: {inserted} rows inserted.");

        Step("Cleaning up");
        foreach (var table in new[] { accounts, bulk })
            await dataSource.ExecuteNonQueryAsync($"DROP TABLE IF EXISTS {table}");
        Say($"dropped {accounts} and {bulk}.");
    }

    Step("7. Metrics recorded by the connector (meter \"Dsql.Connector\")");
    metrics.Print();
}
catch (Exception ex)
{
    Console.Error.WriteLine($"The demo failed: {ex}");
    exitCode = 1;
}
finally
{
    if (emulator is not null)
    {
        await emulator.DisposeAsync();
        Say("emulator stopped.");
    }
}
Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:0.0} s.");
return exitCode;

static void Step(string title)
{
    Console.WriteLine();
    Console.WriteLine($"== {title}");
}

static void Say(string line) => Console.WriteLine("   " + line);

/// <summary>
/// Aggregates whatever instruments the meter publishes: counters and up-down counters are summed, histograms
/// counted and averaged, observable instruments read when printed.
/// </summary>
internal sealed class ConnectorMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Aggregate> _aggregates = new();

    public ConnectorMetrics(string meterName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name != meterName) return;
            _aggregates.TryAdd(instrument, new Aggregate());
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<short>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<byte>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<float>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<decimal>((instrument, value, _, _) => Record(instrument, (double)value));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value)
    {
        var aggregate = _aggregates.GetOrAdd(instrument, _ => new Aggregate());
        lock (aggregate)
        {
            if (IsObservable(instrument)) aggregate.Reset(); // an observation replaces the previous one
            aggregate.Count++;
            aggregate.Sum += value;
        }
    }

    private static bool IsObservable(Instrument instrument) => instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal);

    public void Print()
    {
        _listener.RecordObservableInstruments();
        if (_aggregates.IsEmpty)
        {
            Console.WriteLine("   none: this build of the connector publishes no instruments on that meter.");
            return;
        }
        Console.WriteLine($"   {"instrument",-44} {"kind",-18} {"value",22}");
        foreach (var (instrument, aggregate) in _aggregates.OrderBy(pair => pair.Key.Name, StringComparer.Ordinal))
        {
            string kind = instrument.GetType().Name.Split('`')[0];
            string unit = string.IsNullOrEmpty(instrument.Unit) ? "" : " " + instrument.Unit;
            string shown;
            lock (aggregate)
            {
                shown = aggregate.Count == 0 ? "no measurements"
                    : kind.Contains("Histogram", StringComparison.Ordinal) ? $"n={aggregate.Count}, avg {aggregate.Sum / aggregate.Count:0.###}{unit}"
                    : $"{aggregate.Sum:0.###}{unit}";
            }
            Console.WriteLine($"   {instrument.Name,-44} {kind,-18} {shown,22}");
        }
    }

    public void Dispose() => _listener.Dispose();

    private sealed class Aggregate
    {
        public long Count;
        public double Sum;

        public void Reset()
        {
            Count = 0;
            Sum = 0;
        }
    }
}
