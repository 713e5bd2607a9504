using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>One emulator per test class (started by the first test, stopped with the class) and helpers on its data source.</summary>
public sealed class BulkTestEmulator : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ConnectorHarness? _harness;
    private DsqlDataSource? _dataSource;

    /// <summary>The emulator's harness, once <see cref="DataSourceAsync"/> started it.</summary>
    internal ConnectorHarness? Harness => _harness;

    public async Task<DsqlDataSource> DataSourceAsync(BackendFixture backend)
    {
        await _gate.WaitAsync();
        try
        {
            if (_dataSource is null)
            {
                _harness = await ConnectorHarness.StartAsync(backend);
                _dataSource = _harness.Build("Maximum Pool Size=20");
            }
            return _dataSource;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_dataSource is not null) await _dataSource.DisposeAsync();
        if (_harness is not null) await _harness.DisposeAsync();
        _gate.Dispose();
    }

    public static async Task<string> CreateTableAsync(DsqlDataSource dataSource, string prefix, string columns)
    {
        string name = EmulatorConnections.UniqueName(prefix);
        await dataSource.ExecuteNonQueryAsync($"CREATE TABLE {name} ({columns})");
        return name;
    }

    public static async Task<T> ScalarAsync<T>(DsqlDataSource dataSource, string sql)
        => await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var command = new NpgsqlCommand(sql, connection);
            return (T)(await command.ExecuteScalarAsync(token))!;
        });
}

/// <summary>Records every report as it is made (unlike <see cref="Progress{T}"/>, which posts them later).</summary>
public sealed class RecordingProgress<T> : IProgress<T>
{
    private readonly List<T> _reports = [];
    public Action<T>? OnReport { get; set; }

    public IReadOnlyList<T> Reports { get { lock (_reports) return [.. _reports]; } }

    public void Report(T value)
    {
        lock (_reports) _reports.Add(value);
        OnReport?.Invoke(value);
    }
}
