using BenchmarkDotNet.Attributes;
using Dsql.Connector.Benchmarks.Lab;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Micro;

/// <summary>
/// Renting a pooled connection and running SELECT 1: DsqlDataSource against a bare NpgsqlDataSource whose password
/// is one token signed up front (a static password), both to the same emulator endpoint with the same TLS
/// (verify-full against the emulator's CA, direct negotiation), so the comparison measures the connector's layer.
/// <see cref="Listener"/> runs the pair again with a MeterListener and an ActivityListener on "Dsql.Connector" attached.
/// </summary>
public class RentBenchmarks
{
    private LabEndpoint _lab = null!;
    private NpgsqlDataSource _bare = null!;
    private DsqlDataSource _dsql = null!;
    private TelemetryListeners? _listeners;

    /// <summary>Whether a MeterListener and an ActivityListener listen to the connector during the run.</summary>
    [Params(false, true)]
    public bool Listener { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _listeners = TelemetryListeners.AttachIf(Listener);
        _lab = await LabEndpoint.StartAsync();
        _bare = _lab.Bare("Maximum Pool Size=10");
        _dsql = _lab.Connector("Maximum Pool Size=10");
        await using (var warm = await _bare.OpenConnectionAsync()) { }
        await using (var warm = await _dsql.OpenConnectionAsync()) { }
    }

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task CleanupAsync()
    {
        _listeners?.Dispose();
        await _bare.DisposeAsync();
        await _dsql.DisposeAsync();
        await _lab.DisposeAsync();
    }

    /// <summary>Closes both pools' connections, so the next rents open fresh sessions.</summary>
    public Task ClearPools()
    {
        _bare.Clear();
        _dsql.NpgsqlDataSource.Clear();
        return Task.CompletedTask;
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
