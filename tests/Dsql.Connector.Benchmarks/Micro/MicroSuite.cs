using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Dsql.Connector.Benchmarks.Lab;

namespace Dsql.Connector.Benchmarks.Micro;

/// <summary>
/// The BenchmarkDotNet part of the lab: token, rent, connect and transaction, run in process with the memory
/// diagnoser, each case's mean and allocation turned into the lab's comparisons.
/// </summary>
internal static class MicroSuite
{
    /// <summary>Target ratio of a pooled rent + SELECT 1 through the connector to the same through bare Npgsql.</summary>
    public const double RentTarget = 1.02;

    /// <summary>Target ratio of a physical connect through the connector to the same through bare Npgsql.</summary>
    public const double ConnectTarget = 1.05;

    /// <summary>Target ratio of ExecuteInTransactionAsync to the same transaction written by hand.</summary>
    public const double TransactionTarget = 1.05;

    /// <summary>Most a cache hit may cost, in nanoseconds.</summary>
    public const double TokenHitTargetNs = 1_000;

    private static readonly Dictionary<string, Type> Classes = new(StringComparer.Ordinal)
    {
        ["token"] = typeof(TokenBenchmarks),
        ["rent"] = typeof(RentBenchmarks),
        ["connect"] = typeof(ConnectBenchmarks),
        ["transaction"] = typeof(TransactionOverheadBenchmarks),
    };

    /// <summary>Bytes per pooled open and close of the last rent run (bare, connector), measured after its interleaved rounds.</summary>
    private static (double Bare, double Dsql)? OpenAllocations;

    public static bool Covers(string id) => Classes.ContainsKey(id);

    public static IEnumerable<ScenarioResult> Run(LabSettings settings, IReadOnlyList<string> ids)
    {
        settings.Log($"BenchmarkDotNet ({(settings.Quick ? "short jobs" : "default jobs")}, in process): {string.Join(", ", ids)}");
        var job = (settings.Quick ? Job.Default.WithWarmupCount(3).WithIterationCount(10) : Job.Default)
            .WithLaunchCount(1)
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithId(settings.Quick ? "quick" : "full");
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(new ProgressLogger(settings))
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "dsql-connector-bdn"))
            .WithOptions(ConfigOptions.DisableLogFile);

        foreach (string id in ids)
        {
            var result = Describe(id);
            try
            {
                var summary = BenchmarkRunner.Run(Classes[id], config);
                var cases = summary.Reports.Select(Measure).ToList();
                settings.Log($"interleaved timing: {id}");
                var rounds = InterleaveAsync(id, settings.Quick).GetAwaiter().GetResult();
                if (cases.Count == 0 || cases.Any(c => double.IsNaN(c.MeanNs)))
                {
                    result.Error = "BenchmarkDotNet produced no result for " + (cases.Count == 0 ? "any case" : string.Join(", ", cases.Where(c => double.IsNaN(c.MeanNs)).Select(c => c.Name))) + "; its log above says why.";
                }
                Compare(id, cases, rounds, result);
                if (rounds is not null)
                {
                    result.Details.Add(new DetailTable($"Interleaved timing ({rounds.Count} rounds; per round each variant runs a block of operations, the order rotating)", ["variant", "median per operation", "p10", "p90"],
                        rounds.Names.Select(n =>
                        {
                            var sorted = rounds.Of(n).Order().ToArray();
                            return (IReadOnlyList<string>)[n, Report.FormatValue(Stats.Median(sorted), "µs"), Report.FormatValue(Stats.Percentile(sorted, 0.1), "µs"), Report.FormatValue(Stats.Percentile(sorted, 0.9), "µs")];
                        }).ToList()));
                }
                result.Details.Add(new DetailTable("Every case (BenchmarkDotNet)", ["case", "mean", "std dev", "allocated"],
                    cases.Select(c => (IReadOnlyList<string>)[c.Label, Report.FormatValue(c.MeanNs / 1000, "µs"), Report.FormatValue(c.StdDevNs / 1000, "µs"), Report.FormatValue(c.AllocatedBytes, "B")]).ToList()));
            }
            catch (Exception ex)
            {
                settings.Log($"micro benchmark {id} failed: {ex}");
                result.Error = ex.GetType().Name + ": " + ex.Message;
            }
            yield return result;
        }
    }

    /// <summary>One BenchmarkDotNet case: method, the Listener parameter where there is one, mean, spread, bytes allocated per operation.</summary>
    internal sealed record Case(string Name, bool Listener, double MeanNs, double StdDevNs, double AllocatedBytes)
    {
        public string Label => Listener ? Name + " (listener attached)" : Name;
    }

    private static Case Measure(BenchmarkReport report)
    {
        var benchmark = report.BenchmarkCase;
        bool listener = benchmark.Parameters.Items.Any(p => p.Name == "Listener" && p.Value is true);
        var statistics = report.ResultStatistics;
        long? allocated = report.GcStats.GetBytesAllocatedPerOperation(benchmark);
        return new Case(benchmark.Descriptor.WorkloadMethod.Name, listener, statistics?.Mean ?? double.NaN, statistics?.StandardDeviation ?? double.NaN, allocated ?? double.NaN);
    }

    private static ScenarioResult Describe(string id) => id switch
    {
        "token" => new ScenarioResult
        {
            Id = id,
            Title = "Token: cache hit vs signing",
            Method = "BenchmarkDotNet, memory diagnoser: `DsqlTokenProvider.GetTokenAsync` finding its token in the cache, against `DsqlTokenGenerator.GenerateToken` signing a fresh one (credentials already resolved). Run with and without a MeterListener and ActivityListener on the connector.",
        },
        "rent" => new ScenarioResult
        {
            Id = id,
            Title = "Pooled rent + SELECT 1",
            Method = "BenchmarkDotNet, memory diagnoser: rent a pooled connection and run `SELECT 1`, through `DsqlDataSource` and through a bare `NpgsqlDataSource` whose password is one token signed up front; the same emulator endpoint, the same TLS (verify-full, direct negotiation, loopback). Run with and without a listener on the connector's telemetry.",
        },
        "connect" => new ScenarioResult
        {
            Id = id,
            Title = "Physical connect through the emulator",
            Method = "BenchmarkDotNet, memory diagnoser: one physical connect and close (`Pooling=false`) against an emulator with its rate limit lifted. " +
                     "Three pairs from the same run: the connector against bare Npgsql (static token, same TLS, GSS encryption off on both); direct TLS negotiation against the SSLRequest exchange (bare Npgsql); " +
                     "the connector's cached token against a password provider that signs a token with AWSSDK.Core's SigV4 presigner for every connect.",
        },
        "transaction" => new ScenarioResult
        {
            Id = id,
            Title = "Transaction without contention",
            Method = "BenchmarkDotNet, memory diagnoser: one UPDATE in a transaction on one `DsqlDataSource`: rent, `BEGIN ISOLATION LEVEL REPEATABLE READ`, UPDATE, COMMIT written by hand, against the same through `ExecuteInTransactionAsync`.",
        },
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "not a micro benchmark"),
    };

    /// <summary>
    /// The ratio verdicts of rent, connect and transaction come from interleaved timing, not from BenchmarkDotNet's
    /// means: BenchmarkDotNet measures one case after the other, and on a small shared machine the drift between two
    /// cases' runs is larger than the few percent a target allows. The setups are the benchmark classes' own.
    /// </summary>
    private static async Task<Interleaved.Rounds?> InterleaveAsync(string id, bool quick)
    {
        int Scale(int quickRounds) => quick ? quickRounds : quickRounds * 4;
        switch (id)
        {
            case "rent":
            {
                var rent = new RentBenchmarks { Listener = false };
                rent.Setup();
                try
                {
                    var rounds = await Interleaved.RunAsync([("Bare", rent.Bare), ("Dsql", rent.Dsql)], operationsPerBlock: 100, rounds: Scale(100), warmupRounds: 5,
                        reset: rent.ClearPools, resetEvery: 10);
                    await rent.OpenAllocationsAsync(blocks: 3, opensPerBlock: 1_000); // warm-up
                    OpenAllocations = await rent.OpenAllocationsAsync();
                    return rounds;
                }
                finally
                {
                    rent.Cleanup();
                }
            }
            case "connect":
            {
                var connect = new ConnectBenchmarks();
                connect.Setup();
                try
                {
                    return await Interleaved.RunAsync(
                        [("Bare", connect.Bare), ("Dsql", connect.Dsql), ("BareSslRequest", connect.BareSslRequest), ("SigningPerConnect", connect.SigningPerConnect)],
                        operationsPerBlock: 5, rounds: Scale(40), warmupRounds: 3);
                }
                finally
                {
                    connect.Cleanup();
                }
            }
            case "transaction":
            {
                var transaction = new TransactionOverheadBenchmarks();
                transaction.Setup();
                try
                {
                    return await Interleaved.RunAsync([("HandWritten", transaction.HandWritten), ("Retrying", transaction.Retrying)], operationsPerBlock: 50, rounds: Scale(60), warmupRounds: 3);
                }
                finally
                {
                    transaction.Cleanup();
                }
            }
            default:
                return null;
        }
    }

    private static void Compare(string id, IReadOnlyList<Case> cases, Interleaved.Rounds? rounds, ScenarioResult result)
    {
        Case? Find(string name, bool listener = false) => cases.FirstOrDefault(c => c.Name == name && c.Listener == listener);
        Comparison Paired(string measure, string baseline, string baselineName, string ours, string oursName, double? target, string note = "none")
        {
            var (ratio, low, high) = rounds!.Ratio(baseline, ours);
            string spread = string.Create(CultureInfo.InvariantCulture, $" (interleaved; IQR of the ratio {low:0.000}-{high:0.000})");
            return target is { } maximum
                ? Comparison.RatioAtMost(measure + spread, baselineName, rounds.Median(baseline), oursName, rounds.Median(ours), "µs", maximum, ratio)
                : Comparison.Informative(measure + spread, baselineName, rounds.Median(baseline), oursName, rounds.Median(ours), "µs", note) with { PairedRatio = ratio };
        }
        switch (id)
        {
            case "token":
                foreach (bool listener in new[] { false, true })
                {
                    if (Find("Sign", listener) is not { } sign || Find("CacheHit", listener) is not { } hit) continue;
                    string suffix = listener ? ", listener attached" : "";
                    result.Comparisons.Add(Comparison.ValueAtMost("time per lookup" + suffix, "signing", sign.MeanNs, "cache hit", hit.MeanNs, "ns", TokenHitTargetNs));
                    result.Comparisons.Add(Comparison.ValueAtMost("allocated per lookup" + suffix, "signing", sign.AllocatedBytes, "cache hit", hit.AllocatedBytes, "B", 0));
                }
                break;
            case "rent":
                result.Comparisons.Add(Paired("time per rent", "Bare", "NpgsqlDataSource", "Dsql", "DsqlDataSource", RentTarget));
                if (OpenAllocations is var (bareBytes, dsqlBytes))
                {
                    result.Comparisons.Add(Comparison.Informative("allocated per pooled open and close, no query (median of 21 blocks of 5,000)", "NpgsqlDataSource", bareBytes, "DsqlDataSource", dsqlBytes, "B"));
                }
                foreach (bool listener in new[] { false, true })
                {
                    if (Find("Bare", listener) is not { } bare || Find("Dsql", listener) is not { } dsql) continue;
                    string suffix = listener ? ", listener attached" : "";
                    result.Comparisons.Add(Comparison.Informative("time per rent (BenchmarkDotNet mean" + suffix + ")", "NpgsqlDataSource", bare.MeanNs / 1000, "DsqlDataSource", dsql.MeanNs / 1000, "µs"));
                    result.Comparisons.Add(Comparison.Informative("allocated per rent" + suffix, "NpgsqlDataSource", bare.AllocatedBytes, "DsqlDataSource", dsql.AllocatedBytes, "B"));
                }
                break;
            case "connect":
                result.Comparisons.Add(Paired("time per connect", "Bare", "bare Npgsql", "Dsql", "DsqlDataSource", ConnectTarget));
                result.Comparisons.Add(Paired("time per connect", "BareSslRequest", "SSLRequest", "Bare", "direct TLS", null, "below 1 (one round trip fewer)"));
                result.Comparisons.Add(Paired("time per connect", "SigningPerConnect", "signing per connect", "Dsql", "cached token (DsqlDataSource)", null));
                if (Find("Bare") is { } b && Find("Dsql") is { } d)
                {
                    result.Comparisons.Add(Comparison.Informative("allocated per connect", "bare Npgsql", b.AllocatedBytes, "DsqlDataSource", d.AllocatedBytes, "B"));
                }
                if (Find("SigningPerConnect") is { } signing && Find("Dsql") is { } cached)
                {
                    result.Comparisons.Add(Comparison.Informative("allocated per connect", "signing per connect", signing.AllocatedBytes, "cached token (DsqlDataSource)", cached.AllocatedBytes, "B"));
                }
                break;
            case "transaction":
                result.Comparisons.Add(Paired("time per transaction", "HandWritten", "hand-written", "Retrying", "ExecuteInTransactionAsync", TransactionTarget));
                if (Find("HandWritten") is { } hand && Find("Retrying") is { } retrying)
                {
                    result.Comparisons.Add(Comparison.Informative("time per transaction (BenchmarkDotNet mean)", "hand-written", hand.MeanNs / 1000, "ExecuteInTransactionAsync", retrying.MeanNs / 1000, "µs"));
                    result.Comparisons.Add(Comparison.Informative("allocated per transaction", "hand-written", hand.AllocatedBytes, "ExecuteInTransactionAsync", retrying.AllocatedBytes, "B"));
                }
                break;
        }
    }

    /// <summary>Passes BenchmarkDotNet's errors and its one-line progress headers to the lab's log; the rest is dropped.</summary>
    private sealed class ProgressLogger(LabSettings settings) : ILogger
    {
        public string Id => "lab-progress";

        public int Priority => 0;

        public void Write(LogKind logKind, string text)
        {
        }

        public void WriteLine()
        {
        }

        public void WriteLine(LogKind logKind, string text)
        {
            if (logKind == LogKind.Error || text.StartsWith("// Benchmark: ", StringComparison.Ordinal))
            {
                settings.Log(string.Create(CultureInfo.InvariantCulture, $"  bdn {text.TrimStart('/', ' ')}"));
            }
        }

        public void Flush()
        {
        }
    }
}
