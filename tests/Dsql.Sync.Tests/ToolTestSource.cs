using Dsql.Connector;
using Dsql.Emulator;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>
/// For the tool's tests: source databases on the backend cluster (reached directly, not through the emulator), pipeline
/// files aimed at one of them and at a test emulator, and one-row checksums read on either side.
/// </summary>
internal sealed class ToolTestSource(BackendFixture backend)
{
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        string database = EmulatorConnections.UniqueName(prefix);
        await using var admin = backend.OpenDirect();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
        await create.ExecuteNonQueryAsync();
        return database;
    }

    public async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = await OpenAsync(database);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<NpgsqlConnection> OpenAsync(string database)
    {
        var settings = new NpgsqlConnectionStringBuilder(backend.Cluster.ConnectionString) { Database = database, Pooling = false };
        var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>A pipeline file in the temporary folder (the caller deletes it) from <paramref name="database"/>'s <paramref name="tables"/> (a table-name value) to <paramref name="endpoint"/>.</summary>
    public Task<string> WritePipelineAsync(EmulatorEndpointInfo endpoint, string database, string tables, string name,
        string extraSinkKeys = "", int sinkParallelism = 2, int pipelineParallelism = 2)
        => WritePipelineAsync(new NpgsqlConnectionStringBuilder(backend.Cluster.ConnectionString) { Database = database }, endpoint, tables, name,
            extraSinkKeys, sinkParallelism, pipelineParallelism);

    /// <summary>A pipeline file from the database of <paramref name="direct"/> (any cluster) to <paramref name="endpoint"/>.</summary>
    public static async Task<string> WritePipelineAsync(NpgsqlConnectionStringBuilder direct, EmulatorEndpointInfo endpoint, string tables, string name,
        string extraSinkKeys = "", int sinkParallelism = 2, int pipelineParallelism = 2)
    {
        string database = direct.Database!;
        string file = Path.Combine(Path.GetTempPath(), $"pipeline-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, $"""
            source:
              type: postgres
              hostname: {direct.Host}
              port: {direct.Port}
              username: {direct.Username}
              password: "{direct.Password}"
              database-name: {database}
              schema-name: public
              table-name: {tables}
            sink:
              type: dsql
              host: {endpoint.Host}
              port: {endpoint.Port}
              host-address: 127.0.0.1
              root-certificate: {endpoint.CaCertificatePath}
              parallelism: {sinkParallelism}
            {extraSinkKeys}pipeline:
              name: {name}
              parallelism: {pipelineParallelism}
            """);
        return file;
    }

    /// <summary>The one row <paramref name="sql"/> returns on the source database.</summary>
    public async Task<object?[]> SourceRowAsync(string database, string sql)
    {
        await using var connection = await OpenAsync(database);
        return await ReadRowAsync(connection, sql, CancellationToken.None);
    }

    /// <summary>The one row <paramref name="sql"/> returns on the target.</summary>
    public static Task<object?[]> TargetRowAsync(DsqlDataSource target, string sql)
        => target.ExecuteInTransactionAsync((connection, token) => ReadRowAsync(connection, sql, token));

    private static async Task<object?[]> ReadRowAsync(NpgsqlConnection connection, string sql, CancellationToken token)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(token);
        Assert.True(await reader.ReadAsync(token));
        var values = new object?[reader.FieldCount];
        reader.GetValues(values!);
        return values;
    }
}
