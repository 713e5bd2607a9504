using System.Data;
using Amazon.Runtime;
using BenchmarkDotNet.Attributes;
using Dsql.Emulator;
using Npgsql;

namespace Dsql.Connector.Benchmarks;

/// <summary>
/// No contention: one UPDATE in a transaction through ExecuteInTransactionAsync, against the same written by hand
/// (rent, BEGIN ISOLATION LEVEL REPEATABLE READ, UPDATE, COMMIT) on the same data source.
/// </summary>
public class TransactionOverheadBenchmarks
{
    private DsqlEmulator _emulator = null!;
    private DsqlDataSource _dataSource = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _emulator = await DsqlEmulator.StartAsync();
        var endpoint = _emulator.Endpoints[0];
        _dataSource = new DsqlDataSourceBuilder($"Host={endpoint.Host};Host Address=127.0.0.1;Port={endpoint.Port};Root Certificate={endpoint.CaCertificatePath};Maximum Pool Size=4")
            .UseCredentials(new BasicAWSCredentials(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey))
            .Build();
        await _dataSource.ExecuteNonQueryAsync("CREATE TABLE IF NOT EXISTS overhead_rows (id int PRIMARY KEY, n bigint NOT NULL)");
        await _dataSource.ExecuteNonQueryAsync("INSERT INTO overhead_rows VALUES (1, 0) ON CONFLICT DO NOTHING");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _dataSource.DisposeAsync();
        await _emulator.DisposeAsync();
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
