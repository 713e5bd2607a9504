using System.Data.Common;
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

    /// <summary>
    /// Bytes allocated per pooled open and close, without a query: blocks of opens through each data source,
    /// alternating, counted with the process-wide precise counter (continuations may run on other threads). The
    /// median block of each side, per open. Exact where BenchmarkDotNet's figure also counts the query and the
    /// runtime's background work.
    /// </summary>
    public async Task<(double Bare, double Dsql)> OpenAllocationsAsync(int blocks = 21, int opensPerBlock = 5_000)
    {
        var bare = new List<double>(blocks);
        var dsql = new List<double>(blocks);
        for (int block = 0; block < blocks; block++)
        {
            bare.Add(await AllocatedPerOpenAsync(_bare, opensPerBlock));
            dsql.Add(await AllocatedPerOpenAsync(_dsql, opensPerBlock));
        }
        bare.Sort();
        dsql.Sort();
        return (bare[blocks / 2], dsql[blocks / 2]);
    }

    private static async Task<double> AllocatedPerOpenAsync(DbDataSource dataSource, int opens)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < opens; i++)
        {
            await using var connection = await dataSource.OpenConnectionAsync();
        }
        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)opens;
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
