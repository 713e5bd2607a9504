using System.Data;
using BenchmarkDotNet.Attributes;
using Dsql.Connector.Benchmarks.Lab;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Micro;

/// <summary>
/// No contention: one UPDATE in a transaction through ExecuteInTransactionAsync, against the same written by hand
/// (rent, BEGIN ISOLATION LEVEL REPEATABLE READ, UPDATE, COMMIT) on the same data source.
/// </summary>
public class TransactionOverheadBenchmarks
{
    private LabEndpoint _lab = null!;
    private DsqlDataSource _dataSource = null!;

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _lab = await LabEndpoint.StartAsync();
        _dataSource = _lab.Connector("Maximum Pool Size=4");
        await _dataSource.ExecuteNonQueryAsync("CREATE TABLE IF NOT EXISTS overhead_rows (id int PRIMARY KEY, n bigint NOT NULL)");
        await _dataSource.ExecuteNonQueryAsync("INSERT INTO overhead_rows VALUES (1, 0) ON CONFLICT DO NOTHING");
    }

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task CleanupAsync()
    {
        await _dataSource.DisposeAsync();
        await _lab.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "hand-written BEGIN / UPDATE / COMMIT")]
    public async Task<int> HandWritten()
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        await using var command = new NpgsqlCommand("UPDATE overhead_rows SET n = n + 1 WHERE id = 1", connection, transaction);
        int rows = await command.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
        return rows;
    }

    [Benchmark(Description = "ExecuteInTransactionAsync")]
    public Task<int> Retrying() => _dataSource.ExecuteInTransactionAsync(static async (connection, token) =>
    {
        await using var command = new NpgsqlCommand("UPDATE overhead_rows SET n = n + 1 WHERE id = 1", connection);
        return await command.ExecuteNonQueryAsync(token);
    });
}
