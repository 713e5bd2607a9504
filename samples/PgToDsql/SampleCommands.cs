using System.Globalization;
using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Emulator;
using Dsql.Emulator.Backend;
using Dsql.Sync.Pipeline;
using Npgsql;

namespace PgToDsql;

/// <summary>
/// The sample's commands: <c>up</c> starts a PostgreSQL source with <c>wal_level = logical</c> and a DSQL emulator and
/// writes the pipeline file for them; <c>write</c> changes the source until stopped; <c>compare</c> waits until the
/// target holds what the source holds.
/// </summary>
public static class SampleCommands
{
    /// <summary>Where <c>up</c> writes the pipeline file, and where <c>write</c> and <c>compare</c> read it (from the repository root).</summary>
    public const string DefaultPipeline = "samples/PgToDsql/pipeline.local.yaml";

    private const int SeedCustomers = 200;
    private const int SeedOrders = 1000;

    /// <summary>Runs one command: <c>up</c>, <c>write</c> or <c>compare</c>, each with an optional <c>--pipeline path</c>.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Where the command prints.</param>
    /// <param name="stop">Ctrl+C: ends <c>up</c> and <c>write</c>.</param>
    /// <param name="directory">The directory a relative pipeline path is taken from (default: the current directory).</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken stop, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        string pipeline = Path.GetFullPath(Option(args, "--pipeline") ?? DefaultPipeline, directory ?? Directory.GetCurrentDirectory());
        string? seconds = Option(args, "--wait");
        if (args.FirstOrDefault() is "write" or "compare" && !File.Exists(pipeline))
        {
            await output.WriteLineAsync($"{pipeline} does not exist: start the source and the emulator first (dotnet run --project samples/PgToDsql -c Release -- up), and keep it running.");
            return 2;
        }
        switch (args.FirstOrDefault())
        {
            case "up":
                return await UpAsync(pipeline, output, stop);
            case "write":
                return await WriteAsync(pipeline, output, stop);
            case "compare":
                return await CompareAsync(pipeline, output, TimeSpan.FromSeconds(seconds is null ? 30 : int.Parse(seconds, CultureInfo.InvariantCulture)), stop);
            default:
                await output.WriteLineAsync("usage: PgToDsql up | write | compare [--wait seconds]   [--pipeline path, default " + DefaultPipeline + "]");
                return 2;
        }
    }

    private static string? Option(string[] args, string name)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    /// <summary>
    /// One throwaway PostgreSQL server plays both parts: database <c>shop</c> is the source, and the emulator fronts the
    /// server's <c>postgres</c> database as the DSQL cluster. Runs until stopped, then deletes both.
    /// </summary>
    private static async Task<int> UpAsync(string pipeline, TextWriter output, CancellationToken stop)
    {
        var options = new PostgresClusterOptions { MaxConnections = 200 };
        options.ServerSettings["wal_level"] = "logical";
        options.ServerSettings["max_replication_slots"] = "4";
        options.ServerSettings["max_wal_senders"] = "4";
        await using var cluster = await PostgresCluster.StartAsync(options, cancellationToken: stop);
        await using (var admin = new NpgsqlConnection(cluster.ConnectionString + ";Pooling=false"))
        {
            await admin.OpenAsync(stop);
            await Execute(admin, "CREATE DATABASE shop", stop);
        }
        var source = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Database = "shop", Pooling = false };
        await using (var connection = new NpgsqlConnection(source.ConnectionString))
        {
            await connection.OpenAsync(stop);
            await Execute(connection, $"""
                CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text, created_at timestamptz NOT NULL DEFAULT now());
                CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL);
                INSERT INTO customers (id, name, email) SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, {SeedCustomers}) g;
                INSERT INTO orders SELECT g, g % {SeedCustomers} + 1, (g % 97) * 1.25, 'new' FROM generate_series(1, {SeedOrders}) g;
                """, stop);
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(pipeline))!;
        Directory.CreateDirectory(directory);
        string ca = Path.Combine(directory, "emulator-ca.pem");
        await using var emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions { BackendConnectionString = cluster.ConnectionString, CaCertificateOutputPath = ca }, cancellationToken: stop);
        var endpoint = emulator.Endpoints[0];
        await File.WriteAllTextAsync(pipeline, LocalPipeline(new Dictionary<string, string>
        {
            ["source.hostname"] = cluster.SocketDirectory,
            ["source.port"] = cluster.Port.ToString(CultureInfo.InvariantCulture),
            ["source.username"] = PostgresCluster.SuperUser,
            ["source.password"] = "\"" + source.Password + "\"",
            ["sink.host"] = endpoint.Host,
            ["sink.region"] = endpoint.Region,
            ["sink.port"] = endpoint.Port.ToString(CultureInfo.InvariantCulture),
            ["sink.host-address"] = "127.0.0.1",
            ["sink.root-certificate"] = ca,
        }), stop);
        try
        {
            await output.WriteLineAsync($"source: PostgreSQL {cluster.Version} (wal_level = logical), database shop: {SeedCustomers} customers, {SeedOrders} orders");
            await output.WriteLineAsync($"target: the DSQL emulator, {endpoint.Host} on 127.0.0.1:{endpoint.Port} (tokens signed with AWS's example key {DsqlEmulatorOptions.ExampleAccessKeyId})");
            await output.WriteLineAsync($"pipeline file: {pipeline}");
            await output.WriteLineAsync("ready: run dsql-sync with that file in another terminal; Ctrl+C here stops both servers and deletes them.");
            await Task.Delay(Timeout.Infinite, stop);
        }
        catch (OperationCanceledException)
        {
            await output.WriteLineAsync("stopping: the source and the emulator are deleted.");
        }
        finally
        {
            File.Delete(pipeline);
            File.Delete(ca);
        }
        return 0;
    }

    /// <summary>The pipeline file (embedded from pipeline.yaml) with the given <c>section.key</c>s set, added when absent.</summary>
    private static string LocalPipeline(Dictionary<string, string> values)
    {
        using var template = new StreamReader(typeof(SampleCommands).Assembly.GetManifestResourceStream("PgToDsql.pipeline.yaml")!);
        var lines = new List<string> { "# Written by `PgToDsql up` from samples/PgToDsql/pipeline.yaml: the addresses of the source and the emulator it started." };
        var pending = new Dictionary<string, string>(values);
        string section = "";
        foreach (string line in template.ReadToEnd().Split('\n'))
        {
            if (line.Length > 0 && !char.IsWhiteSpace(line[0]) && line.EndsWith(':'))
            {
                AddMissing(lines, pending, section);
                section = line[..^1];
                lines.Add(line);
                continue;
            }
            string trimmed = line.TrimStart();
            int colon = trimmed.IndexOf(':', StringComparison.Ordinal);
            string key = section + "." + (colon > 0 ? trimmed[..colon] : "");
            if (line.StartsWith("  ", StringComparison.Ordinal) && !trimmed.StartsWith('#') && !trimmed.StartsWith('-') && pending.Remove(key, out string? value))
                lines.Add($"  {key[(section.Length + 1)..]}: {value}");
            else
                lines.Add(line);
        }
        AddMissing(lines, pending, section);
        return string.Join('\n', lines);
    }

    private static void AddMissing(List<string> lines, Dictionary<string, string> pending, string section)
    {
        foreach (var (key, value) in pending.Where(p => p.Key.StartsWith(section + ".", StringComparison.Ordinal)).ToList())
        {
            // After the section's last line that is not blank.
            int at = lines.Count;
            while (at > 0 && lines[at - 1].Trim().Length == 0) at--;
            lines.Insert(at, $"  {key[(section.Length + 1)..]}: {value}");
            pending.Remove(key);
        }
    }

    /// <summary>
    /// Source transactions until stopped, each a mix: a new customer and order, an order updated, every third an order
    /// deleted, every fourth a new order's key changed.
    /// </summary>
    private static async Task<int> WriteAsync(string pipeline, TextWriter output, CancellationToken stop)
    {
        var settings = PipelineDefinition.Load(pipeline).Source.ToNpgsqlSettings();
        settings.ApplicationName = "PgToDsql write";
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync(stop);
        await output.WriteLineAsync("writing to the source: inserts, updates, deletes and key updates, in transactions of up to five statements (Ctrl+C stops).");
        int n = 0;
        var report = DateTime.UtcNow;
        while (!stop.IsCancellationRequested)
        {
            long customer = 100_000 + n, order = 100_000 + n;
            await using (var batch = new NpgsqlCommand($"""
                BEGIN;
                INSERT INTO customers (id, name, email) VALUES ({customer}, 'customer {customer}', NULL);
                INSERT INTO orders VALUES ({order}, {customer}, {n % 50}.50, 'new');
                UPDATE orders SET status = 'shipped', amount = amount + 1 WHERE id = {n * 7 % SeedOrders + 1};
                DELETE FROM orders WHERE id = {n * 13 % SeedOrders + 1} AND {n % 3} = 0;
                UPDATE orders SET id = id + 1000000 WHERE id = {100_000 + n / 2} AND {n % 4} = 0;
                COMMIT;
                """, connection))
            {
                await batch.ExecuteNonQueryAsync(CancellationToken.None);
            }
            n++;
            if (DateTime.UtcNow - report > TimeSpan.FromSeconds(1))
            {
                report = DateTime.UtcNow;
                await output.WriteLineAsync($"{n:N0} source transactions so far");
            }
            try
            {
                await Task.Delay(20, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await output.WriteLineAsync($"stopped after {n:N0} source transactions.");
        return 0;
    }

    private static readonly (string Table, string Sums)[] Checks =
    [
        ("customers", "count(*)::text || ' rows, ids ' || coalesce(sum(id), 0)::text || ', names ' || coalesce(sum(length(name)), 0)::text"),
        ("orders", "count(*)::text || ' rows, ids ' || coalesce(sum(id), 0)::text || ', amounts ' || coalesce(sum(amount), 0)::text || ', statuses ' || coalesce(sum(length(status)), 0)::text"),
    ];

    /// <summary>Waits until each table's count and sums on the target equal the source's, at most <paramref name="wait"/>.</summary>
    private static async Task<int> CompareAsync(string pipeline, TextWriter output, TimeSpan wait, CancellationToken stop)
    {
        var definition = PipelineDefinition.Load(pipeline);
        var builder = definition.Sink.CreateDataSourceBuilder();
        // The emulator accepts AWS's documented example key; for a real cluster, leave the default credential chain.
        if (definition.Sink.HostAddress is not null)
            builder.UseCredentials(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey));
        await using var target = builder.Build();
        await using var source = new NpgsqlConnection(definition.Source.ToNpgsqlSettings().ConnectionString);
        await source.OpenAsync(stop);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var differences = new List<string>();
            var lines = new List<string>();
            foreach (var (table, sums) in Checks)
            {
                string sql = $"SELECT {sums} FROM {table}";
                await using var command = new NpgsqlCommand(sql, source);
                string expected = (string)(await command.ExecuteScalarAsync(stop))!;
                string actual;
                try
                {
                    actual = await target.ExecuteInTransactionAsync(async (connection, token) =>
                    {
                        await using var read = new NpgsqlCommand(sql, connection);
                        return (string)(await read.ExecuteScalarAsync(token))!;
                    }, new DsqlTransactionOptions { ReadOnly = true }, stop);
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
                {
                    actual = "no table yet";
                }
                lines.Add($"{table}: source {expected}; target {actual}");
                if (expected != actual) differences.Add(table);
            }
            if (differences.Count == 0)
            {
                foreach (string line in lines) await output.WriteLineAsync(line);
                await output.WriteLineAsync("equal: the target holds what the source holds.");
                return 0;
            }
            if (DateTime.UtcNow >= deadline)
            {
                foreach (string line in lines) await output.WriteLineAsync(line);
                await output.WriteLineAsync($"different after {wait.TotalSeconds:0} s: {string.Join(", ", differences)} (is dsql-sync run running?)");
                return 1;
            }
            await Task.Delay(200, stop);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken stop)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(stop);
    }
}
