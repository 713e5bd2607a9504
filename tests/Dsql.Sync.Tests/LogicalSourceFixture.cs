using Dsql.Emulator.Backend;
using Dsql.Sync.Cdc;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster with <c>wal_level = logical</c>, for the change source's tests (one per collection;
/// the emulator's backend cluster stays at PostgreSQL's default <c>replica</c>). Each test makes its own database, so
/// its publication and slot are its own.
/// </summary>
public sealed class LogicalSourceFixture : IAsyncLifetime
{
    public PostgresCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var options = new PostgresClusterOptions { MaxConnections = 100 };
        options.ServerSettings["wal_level"] = "logical";
        options.ServerSettings["max_replication_slots"] = "20";
        options.ServerSettings["max_wal_senders"] = "20";
        Cluster = await PostgresCluster.StartAsync(options);
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>A new database with <paramref name="setup"/> run in it; returns its connection string (the superuser's).</summary>
    public async Task<string> CreateDatabaseAsync(string setup)
    {
        string database = "src_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(Cluster.ConnectionString + ";Pooling=false"))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
            await create.ExecuteNonQueryAsync();
        }
        string connectionString = new NpgsqlConnectionStringBuilder(Cluster.ConnectionString) { Database = database, Pooling = false }.ConnectionString;
        await ExecuteAsync(connectionString, setup);
        return connectionString;
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs each statement (or explicit transaction) as its own transaction, in order.</summary>
    public static async Task ExecuteEachAsync(string connectionString, params string[] statements)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    public static PostgresChangeSource Source(string connectionString, params string[] tables)
    {
        // A short status interval: the idle confirmation runs often, so the tests see that it never confirms a
        // transaction delivered and not acknowledged.
        var options = new PostgresChangeSourceOptions
        {
            ConnectionString = connectionString, PublicationName = "dsql_sync_pub", SlotName = "dsql_sync_slot", StatusInterval = TimeSpan.FromMilliseconds(50),
        };
        foreach (var table in tables) options.Tables.Add(table);
        return new PostgresChangeSource(options);
    }

    /// <summary>
    /// Reads <paramref name="count"/> transactions from a new stream (failing after 15 s), calling
    /// <paramref name="onEach"/> for each, then stops the stream.
    /// </summary>
    public static async Task<List<SourceTransaction>> TakeAsync(PostgresChangeSource source, int count, Action<SourceTransaction>? onEach = null, ulong fromLsn = 0)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var taken = new List<SourceTransaction>();
        await foreach (var transaction in source.StreamAsync(fromLsn, timeout.Token))
        {
            taken.Add(transaction);
            onEach?.Invoke(transaction);
            if (taken.Count == count) break;
        }
        return taken;
    }
}

[CollectionDefinition(Name)]
public sealed class LogicalSourceCollection : ICollectionFixture<LogicalSourceFixture>
{
    public const string Name = "logical-source";
}
