using System.Diagnostics;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Dsql.Emulator;
using Dsql.Emulator.Backend;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// The emulator's own costs: the round trip it adds to a query, how many sessions it holds, and how long it takes to
/// start. It runs in the lab's process here (the round trip needs the cluster behind it, which the command-line host
/// does not expose); both sides of each comparison share that process alike.
/// </summary>
internal static class EmulatorScenario
{
    public const double AddedLatencyTargetMicros = 100;
    public const double ColdStartTargetSeconds = 5;

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        int iterations = settings.Quick ? 20_000 : 50_000;
        const int sessions = 1_000;
        string rounds = iterations.ToString("#,0", CultureInfo.InvariantCulture), held = sessions.ToString("#,0", CultureInfo.InvariantCulture);
        var result = new ScenarioResult
        {
            Id = "emulator",
            Title = "The emulator's own overhead",
            Method =
                $"`SELECT 1` on one open connection each, {rounds} round trips after 2,000 warm-up, the two paths interleaved in blocks of 100: " +
                "straight to the PostgreSQL behind the emulator over TLS (verify-full) against through the emulator (TLS, verify-full, direct negotiation; the emulator reaches PostgreSQL over a Unix socket). " +
                $"Then {held} sessions held open at once (opened 32 at a time), each answering `SELECT 1`; and five cold starts of an emulator with its own throwaway cluster, against starting such a cluster alone.",
        };

        await LatencyAsync(iterations, result);
        settings.Log("emulator: sessions");
        await SessionsAsync(sessions, result);
        settings.Log("emulator: cold start");
        await ColdStartAsync(result);
        return result;
    }

    private static string Token(DsqlEmulator emulator)
    {
        var endpoint = emulator.Endpoints[0];
        return new DsqlTokenGenerator(LabEndpoint.Credentials).GenerateToken(endpoint.Host, endpoint.Region, "admin", TimeSpan.FromHours(1));
    }

    private static async Task LatencyAsync(int iterations, ScenarioResult result)
    {
        // The emulator's own cluster listens on a private Unix socket only; for the straight path the lab starts a
        // cluster that also serves TLS on loopback TCP, and attaches the emulator to it.
        string caPath = Path.Combine(Path.GetTempPath(), $"dsql-lab-ca-{Environment.ProcessId}.pem");
        var (caPem, certificatePem, keyPem) = LoopbackCertificates();
        await File.WriteAllTextAsync(caPath, caPem);
        try
        {
            await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { Tls = (certificatePem, keyPem) });
            await using var emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions { BackendConnectionString = cluster.ConnectionString });
            string direct = cluster.TcpConnectionString + $";SSL Mode=VerifyFull;Root Certificate={caPath};Pooling=false;Gss Encryption Mode=Disable";
            await LatencyAsync(iterations, result, emulator, direct);
        }
        finally
        {
            File.Delete(caPath);
        }
    }

    /// <summary>A CA and a certificate it signs for 127.0.0.1, as PEM.</summary>
    private static (string CaPem, string CertificatePem, string KeyPem) LoopbackCertificates()
    {
        using var caKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var caRequest = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Dsql lab CA", caKey, System.Security.Cryptography.HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509KeyUsageExtension(System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.KeyCertSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        using var serverKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var serverRequest = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=127.0.0.1", serverKey, System.Security.Cryptography.HashAlgorithmName.SHA256);
        var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        using var server = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        return (ca.ExportCertificatePem(), server.ExportCertificatePem(), serverKey.ExportPkcs8PrivateKeyPem());
    }

    private static async Task LatencyAsync(int iterations, ScenarioResult result, DsqlEmulator emulator, string direct)
    {
        var endpoint = emulator.Endpoints[0];
        await using var straight = new NpgsqlConnection(direct);
        await using var through = new NpgsqlConnection(endpoint.NpgsqlConnectionString("admin", Token(emulator)));
        await straight.OpenAsync();
        await through.OpenAsync();
        await using var straightCommand = new NpgsqlCommand("SELECT 1", straight);
        await using var throughCommand = new NpgsqlCommand("SELECT 1", through);
        for (int i = 0; i < 2_000; i++)
        {
            await straightCommand.ExecuteScalarAsync();
            await throughCommand.ExecuteScalarAsync();
        }
        var straightTimes = new double[iterations];
        var throughTimes = new double[iterations];
        const int block = 100;
        for (int start = 0; start < iterations; start += block)
        {
            int end = Math.Min(iterations, start + block);
            for (int i = start; i < end; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                await straightCommand.ExecuteScalarAsync();
                straightTimes[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
            for (int i = start; i < end; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                await throughCommand.ExecuteScalarAsync();
                throughTimes[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
        }
        Array.Sort(straightTimes);
        Array.Sort(throughTimes);
        double directMedian = Stats.Percentile(straightTimes, 0.5), throughMedian = Stats.Percentile(throughTimes, 0.5);
        double added = throughMedian - directMedian;
        result.Comparisons.Add(Comparison.Checked("`SELECT 1` round trip, median", "PostgreSQL over TLS", directMedian, "through the emulator", throughMedian, "µs",
            $"at most +{AddedLatencyTargetMicros:0} µs (measured +{added:0.0} µs)", added <= AddedLatencyTargetMicros));
        result.Details.Add(new DetailTable("Round-trip percentiles", ["path", "median", "p90", "p99"],
        [
            ["PostgreSQL over TLS (direct)", Micros(straightTimes, 0.5), Micros(straightTimes, 0.9), Micros(straightTimes, 0.99)],
            ["through the emulator", Micros(throughTimes, 0.5), Micros(throughTimes, 0.9), Micros(throughTimes, 0.99)],
        ]));

        static string Micros(double[] sorted, double p) => Report.FormatValue(Stats.Percentile(sorted, p), "µs");
    }

    private static async Task SessionsAsync(int count, ScenarioResult result)
    {
        await using var emulator = await DsqlEmulator.StartAsync(new DsqlEmulatorOptions { BackendMaxConnections = count + 50 });
        string connectionString = emulator.Endpoints[0].NpgsqlConnectionString("admin", Token(emulator));
        var connections = new NpgsqlConnection[count];
        var clock = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(32);
        try
        {
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
            clock.Restart();
            var answers = await Task.WhenAll(connections.Select(async c =>
            {
                await using var command = new NpgsqlCommand("SELECT 1", c);
                return (int)(await command.ExecuteScalarAsync())!;
            }));
            double queryMillis = clock.Elapsed.TotalMilliseconds;
            int answered = answers.Count(a => a == 1);
            // Counted once every session has answered a query: a session marks itself as proxying just after it
            // has told its client it is ready, so a count taken right after the opens can miss the last one.
            int open = emulator.OpenSessionCount;
            result.Comparisons.Add(Comparison.Checked("sessions held at once, answering `SELECT 1`", "opened", open, "answered", answered, "connections",
                $"all {count:#,0}", open == count && answered == count));
            result.Details.Add(new DetailTable("Sessions", ["sessions open at once", "answered", "time to open all (32 at a time)", "one `SELECT 1` on each, all at once"],
            [
                [open.ToString("#,0", CultureInfo.InvariantCulture), answered.ToString("#,0", CultureInfo.InvariantCulture), openSeconds.ToString("0.0 s", CultureInfo.InvariantCulture), queryMillis.ToString("0 'ms'", CultureInfo.InvariantCulture)],
            ]));
        }
        finally
        {
            foreach (var connection in connections)
            {
                if (connection is not null) await connection.DisposeAsync();
            }
        }
    }

    private static async Task ColdStartAsync(ScenarioResult result)
    {
        var emulatorTimes = new List<double>();
        var clusterTimes = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            await using (var cluster = await PostgresCluster.StartAsync())
            {
                clusterTimes.Add(clock.Elapsed.TotalSeconds);
            }
            clock.Restart();
            await using (var emulator = await DsqlEmulator.StartAsync())
            {
                emulatorTimes.Add(clock.Elapsed.TotalSeconds);
            }
        }
        double emulatorMedian = Stats.Median(emulatorTimes), clusterMedian = Stats.Median(clusterTimes);
        result.Comparisons.Add(Comparison.Checked("cold start, median of 5", "PostgreSQL cluster alone (initdb, start)", clusterMedian, "emulator (cluster, helpers, certificates, listeners)", emulatorMedian, "s",
            $"under {ColdStartTargetSeconds:0} s (slowest {emulatorTimes.Max():0.00} s)", emulatorTimes.Max() < ColdStartTargetSeconds));
    }
}
