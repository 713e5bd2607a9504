using Amazon.Runtime;
using BenchmarkDotNet.Attributes;

namespace Dsql.Connector.Benchmarks.Micro;

/// <summary>
/// The token lookup a physical connect performs: a cache hit must cost under 1 µs and allocate nothing, with or
/// without a listener on the connector's meter (<see cref="Listener"/>).
/// </summary>

public class TokenBenchmarks
{
    private const string Host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private DsqlTokenProvider _provider = null!;
    private DsqlTokenGenerator _generator = null!;
    private TelemetryListeners? _listeners;

    /// <summary>Whether a MeterListener and an ActivityListener listen to the connector during the run.</summary>
    [Params(false, true)]
    public bool Listener { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _listeners = TelemetryListeners.AttachIf(Listener);
        _generator = new DsqlTokenGenerator(new BasicAWSCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        _provider = new DsqlTokenProvider(_generator);
        _provider.GetTokenAsync(Host, "us-east-1", "admin").AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _provider.Dispose();
        _listeners?.Dispose();
    }

    [Benchmark(Description = "cache hit (GetTokenAsync)")]
    public ValueTask<string> CacheHit() => _provider.GetTokenAsync(Host, "us-east-1", "admin");

    [Benchmark(Baseline = true, Description = "signing a new token (a miss)")]
    public string Sign() => _generator.GenerateToken(Host, "us-east-1", "admin");
}
