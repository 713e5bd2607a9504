// Measured harness for the emulator's performance claims (see docs/performance.md):
//   latency    SELECT 1 round trip: straight to PostgreSQL over TLS vs through the emulator (median, p90, p99)
//   sessions   1,000 sessions open at once through one emulator, each answering SELECT 1
//   coldstart  DsqlEmulator.StartAsync with its own throwaway cluster, to ready
// Usage: ./build.sh bench [latency|sessions|coldstart|all] [--iterations N] [--sessions N]
using System.Diagnostics;
using System.Globalization;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using Dsql.Emulator;
using Npgsql;

string what = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
int iterations = Option("--iterations", 20_000);
int sessionCount = Option("--sessions", 1_000);
if (what is not ("latency" or "sessions" or "coldstart" or "all"))
{
    Console.Error.WriteLine($"error: unknown benchmark '{what}' (latency, sessions, coldstart, all)");
    return 2;
}
Console.WriteLine($"# Emulator benchmarks ({DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, .NET {Environment.Version})");
if (what is "coldstart" or "all") await ColdStartAsync();
if (what is "latency" or "all") await LatencyAsync(iterations);
if (what is "sessions" or "all") await SessionsAsync(sessionCount);
return 0;

int Option(string name, int fallback)
{
    int index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static string Token(EmulatorEndpointInfo endpoint, string user = "admin")
{
    var request = new AWSSigningRequest { HttpMethod = HttpMethod.Get, RequestUri = new Uri($"https://{endpoint.Host}/?Action=DbConnectAdmin") };
    var parameters = new AWSSigV4Parameters
    {
        Credentials = new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey),
        Region = RegionEndpoint.GetBySystemName(endpoint.Region),
        Service = "dsql",
    };
    return AWSSigV4Signer.Presign(request, parameters, TimeSpan.FromMinutes(15)).Uri.AbsoluteUri["https://".Length..];
}

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

static async Task ColdStartAsync()
{
    var times = new List<double>();
    for (int i = 0; i < 5; i++)
    {
        var clock = Stopwatch.StartNew();
        await using var emulator = await DsqlEmulator.StartAsync();
        times.Add(clock.Elapsed.TotalMilliseconds);
    }
    times.Sort();
    Console.WriteLine();
    Console.WriteLine("## Cold start (throwaway cluster: initdb, start, helpers, endpoints), 5 runs");
    Console.WriteLine($"| median | max |\n|---|---|\n| {times[2]:F0} ms | {times[^1]:F0} ms |");
}

static async Task LatencyAsync(int iterations)
{
    await using var emulator = await DsqlEmulator.StartAsync();
    var endpoint = emulator.Endpoints[0];
    var cluster = emulator.Cluster!;
    string direct = $"Host=127.0.0.1;Port={cluster.Port};Username=admin;Database=postgres;SSL Mode=VerifyFull;Root Certificate={emulator.CaCertificatePath};Pooling=false";
    string proxied = endpoint.NpgsqlConnectionString("admin", Token(endpoint));
    await using var straight = new NpgsqlConnection(direct);
    await using var through = new NpgsqlConnection(proxied);
    await straight.OpenAsync();
    await through.OpenAsync();
    await using var straightCommand = new NpgsqlCommand("SELECT 1", straight);
    await using var throughCommand = new NpgsqlCommand("SELECT 1", through);

    var straightTimes = new double[iterations];
    var throughTimes = new double[iterations];
    for (int i = 0; i < 2_000; i++)
    {
        await straightCommand.ExecuteScalarAsync();
        await throughCommand.ExecuteScalarAsync();
    }
    // Interleaved in blocks so that drift in the machine's load hits both sides alike.
    const int block = 100;
    for (int start = 0; start < iterations; start += block)
    {
        for (int i = start; i < Math.Min(iterations, start + block); i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            await straightCommand.ExecuteScalarAsync();
            straightTimes[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        for (int i = start; i < Math.Min(iterations, start + block); i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            await throughCommand.ExecuteScalarAsync();
            throughTimes[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
    }
    Array.Sort(straightTimes);
    Array.Sort(throughTimes);
    Console.WriteLine();
    Console.WriteLine($"## SELECT 1 round trip, one connection each, {iterations} iterations after 2,000 warm-up");
    Console.WriteLine("| path | median | p90 | p99 |\n|---|---|---|---|");
    Console.WriteLine($"| PostgreSQL over TLS (direct) | {Percentile(straightTimes, 0.5):F1} µs | {Percentile(straightTimes, 0.9):F1} µs | {Percentile(straightTimes, 0.99):F1} µs |");
    Console.WriteLine($"| through the emulator (TLS + proxy) | {Percentile(throughTimes, 0.5):F1} µs | {Percentile(throughTimes, 0.9):F1} µs | {Percentile(throughTimes, 0.99):F1} µs |");
    Console.WriteLine($"| added by the emulator | {Percentile(throughTimes, 0.5) - Percentile(straightTimes, 0.5):F1} µs | | |");
}

static async Task SessionsAsync(int count)
{
    await using var emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions { BackendMaxConnections = count + 50 });
    var endpoint = emulator.Endpoints[0];
    string connectionString = endpoint.NpgsqlConnectionString("admin", Token(endpoint));
    var connections = new NpgsqlConnection[count];
    var clock = Stopwatch.StartNew();
    using var gate = new SemaphoreSlim(32);
    await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
    {
        await gate.WaitAsync();
        try
        {
            connections[i] = new NpgsqlConnection(connectionString);
            await connections[i].OpenAsync();
        }
        finally
        {
            gate.Release();
        }
    }));
    double openSeconds = clock.Elapsed.TotalSeconds;
    int open = emulator.OpenSessionCount;
    clock.Restart();
    var answers = await Task.WhenAll(connections.Select(async c => (int)(await new NpgsqlCommand("SELECT 1", c).ExecuteScalarAsync())!));
    double querySeconds = clock.Elapsed.TotalSeconds;
    foreach (var connection in connections) await connection.DisposeAsync();
    Console.WriteLine();
    Console.WriteLine($"## {count} concurrent sessions through one emulator");
    Console.WriteLine("| sessions open at once | answered SELECT 1 | time to open all (32 at a time) | one SELECT 1 on each, all at once |\n|---|---|---|---|");
    Console.WriteLine($"| {open} | {answers.Count(a => a == 1)} | {openSeconds:F1} s | {querySeconds * 1000:F0} ms |");
    if (open != count || answers.Any(a => a != 1)) throw new InvalidOperationException("not every session was served");
}
