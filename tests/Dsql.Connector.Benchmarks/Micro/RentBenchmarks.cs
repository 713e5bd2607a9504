using Amazon.Runtime;
using BenchmarkDotNet.Attributes;
using Dsql.Emulator;
using Npgsql;

namespace Dsql.Connector.Benchmarks;

/// <summary>
/// Renting a pooled connection and running SELECT 1: DsqlDataSource against a bare NpgsqlDataSource whose password
/// is one token signed up front (a static password), both to the same emulator endpoint with the same TLS
/// (verify-full against the emulator's CA, direct negotiation), so the comparison measures the connector's layer.
/// <see cref="Listener"/> runs the pair again with a MeterListener and an ActivityListener on "Dsql.Connector" attached.
/// </summary>
public class RentBenchmarks
{
    private DsqlEmulator _emulator = null!;
    private NpgsqlDataSource _bare = null!;
    private DsqlDataSource _dsql = null!;
    private TelemetryListeners? _listeners;

    /// <summary>Whether a MeterListener and an ActivityListener listen to the connector during the run.</summary>
    [Params(false, true)]
    public bool Listener { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _listeners = TelemetryListeners.AttachIf(Listener);
        _emulator = await DsqlEmulator.StartAsync();
        var endpoint = _emulator.Endpoints[0];
        var credentials = new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey);
        string staticPassword = new DsqlTokenGenerator(credentials).GenerateToken(endpoint.Host, endpoint.Region, "admin", TimeSpan.FromHours(1));
        _bare = NpgsqlDataSource.Create(
            $"Host=127.0.0.1;Port={endpoint.Port};Username=admin;Password={staticPassword};Database=postgres;SSL Mode=VerifyFull;SSL Negotiation=Direct;" +
            $"Root Certificate={endpoint.CaCertificatePath};No Reset On Close=true;Enlist=false;Maximum Pool Size=10");
        _dsql = new DsqlDataSourceBuilder($"Host={endpoint.Host};Host Address=127.0.0.1;Port={endpoint.Port};Root Certificate={endpoint.CaCertificatePath};Maximum Pool Size=10")
            .UseCredentials(credentials)
            .Build();
        await using (var warm = await _bare.OpenConnectionAsync()) { }
        await using (var warm = await _dsql.OpenConnectionAsync()) { }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _listeners?.Dispose();
        await _bare.DisposeAsync();
        await _dsql.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "NpgsqlDataSource (static password)")]
    public async Task<int> Bare()
    {
        await using var connection = await _bare.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    [Benchmark(Description = "DsqlDataSource")]
    public async Task<int> Dsql()
    {
        await using var connection = await _dsql.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }
}
