using Dsql.Emulator.Backend;
using Npgsql;

namespace Dsql.Emulator.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL cluster for the whole test run; each test starts its own emulator attached to it
/// (which also exercises the attach path), with the limits it needs.
/// </summary>
public sealed class BackendFixture : IAsyncLifetime
{
    public PostgresCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { MaxConnections = 1300 });
        // The first emulator installs its helpers and DSQL's admin role; tests may set up fixtures as admin directly.
        await (await StartEmulatorAsync()).DisposeAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    public Task<DsqlEmulator> StartEmulatorAsync(Action<DsqlEmulatorOptions>? configure = null)
    {
        var options = new DsqlEmulatorOptions { BackendConnectionString = Cluster.ConnectionString };
        configure?.Invoke(options);
        return DsqlEmulator.StartAsync(options);
    }

    /// <summary>
    /// A direct connection to the backend as its superuser, bypassing the emulator (to set up fixtures and check
    /// results). With <paramref name="role"/>, the session then acts as that role (<c>SET ROLE</c>): what it creates
    /// belongs to that role, as if created through the emulator, and the emulator's caps do not apply to it.
    /// </summary>
    public NpgsqlConnection OpenDirect(string? role = null)
    {
        var connection = new NpgsqlConnection(Cluster.ConnectionString + ";Pooling=false");
        connection.Open();
        if (role is not null)
        {
            using var setRole = new NpgsqlCommand($"SET ROLE \"{role.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            setRole.ExecuteNonQuery();
        }
        return connection;
    }
}

[CollectionDefinition(Name)]
public sealed class BackendCollection : ICollectionFixture<BackendFixture>
{
    public const string Name = "backend";
}

/// <summary>Helpers to open Npgsql connections through an emulator.</summary>
internal static class EmulatorConnections
{
    public static async Task<NpgsqlConnection> OpenAsync(DsqlEmulator emulator, string user = "admin", int endpoint = 0, string? token = null, string? extra = null)
    {
        var info = emulator.Endpoints[endpoint];
        var connection = new NpgsqlConnection(info.NpgsqlConnectionString(user, token ?? TestTokens.For(emulator, info, user)) + (extra is null ? "" : ";" + extra));
        await connection.OpenAsync();
        return connection;
    }

    public static string UniqueName(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..12];
}
