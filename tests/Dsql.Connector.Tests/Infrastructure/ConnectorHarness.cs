using System.Collections.Concurrent;
using System.Security.Cryptography;
using Amazon.Runtime;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Dsql.Connector.Tests.Infrastructure;

/// <summary>An emulator with an endpoint name of its own (so the process-wide rate buckets never mix between tests) and data sources aimed at it.</summary>
internal sealed class ConnectorHarness : IAsyncDisposable
{
    private ConnectorHarness(DsqlEmulator emulator) => Emulator = emulator;

    public DsqlEmulator Emulator { get; }
    public EmulatorEndpointInfo Endpoint => Emulator.Endpoints[0];
    public CapturingLoggerFactory Logs { get; } = new();

    public static async Task<ConnectorHarness> StartAsync(BackendFixture backend, Action<DsqlEmulatorOptions>? configure = null, string region = "us-east-1")
    {
        string clusterId = UniqueClusterId();
        var emulator = await backend.StartEmulatorAsync(options =>
        {
            options.Endpoints.Add(new EmulatorEndpoint($"{clusterId}.dsql.{region}.on.aws"));
            configure?.Invoke(options);
        });
        return new ConnectorHarness(emulator);
    }

    /// <summary>
    /// Two regional endpoints over one backend, as a multi-Region cluster has: <see cref="Endpoint"/> in us-east-1 and
    /// <see cref="Peer"/> in us-west-2.
    /// </summary>
    public static Task<ConnectorHarness> StartTwoRegionsAsync(BackendFixture backend)
        => StartAsync(backend, o => o.Endpoints.Add(new EmulatorEndpoint($"{UniqueClusterId()}.dsql.us-west-2.on.aws")));

    /// <summary>The second endpoint of <see cref="StartTwoRegionsAsync"/>.</summary>
    public EmulatorEndpointInfo Peer => Emulator.Endpoints[1];

    /// <summary>A data source over both endpoints of <see cref="StartTwoRegionsAsync"/>, the peer reached through 127.0.0.1.</summary>
    public DsqlDataSourceBuilder TwoRegionBuilder()
        => Builder().AddEndpoint(Peer.Host, s => { s.HostAddress = "127.0.0.1"; s.Port = Peer.Port; s.RootCertificate = Peer.CaCertificatePath; });

    /// <summary>Polls <paramref name="condition"/> every 50 ms; fails naming <paramref name="what"/> after 60 s.</summary>
    public static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"waited 60 s for {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>A loopback port nothing listens on: connects to it are refused at once, as to an unreachable Region.</summary>
    public static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static string UniqueClusterId()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return string.Create(26, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }

    /// <summary>The connection string a user would write for this endpoint through a tunnel to 127.0.0.1.</summary>
    public string ConnectionString(string? extra = null)
        => $"Host={Endpoint.Host};Host Address=127.0.0.1;Port={Endpoint.Port};Root Certificate={Endpoint.CaCertificatePath}" + (extra is null ? "" : ";" + extra);

    public DsqlDataSourceBuilder Builder(string? extra = null, AWSCredentials? credentials = null)
        => new DsqlDataSourceBuilder(ConnectionString(extra))
            .UseCredentials(credentials ?? new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret))
            .UseTimeProvider(Emulator.Clock)
            .UseLoggerFactory(Logs);

    public DsqlDataSource Build(string? extra = null) => Builder(extra).Build();

    public ValueTask DisposeAsync() => Emulator.DisposeAsync();
}

/// <summary>Captures every log line (connector and Npgsql) so tests can look for what must never be logged.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public string All => string.Join(Environment.NewLine, _lines);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string line = $"{logLevel} {category}: {formatter(state, exception)}";
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
                foreach (var (key, value) in values) line += $" [{key}={value}]";
            if (exception is not null) line += " " + exception;
            owner._lines.Enqueue(line);
        }
    }
}
