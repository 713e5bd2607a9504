using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// The emulator holds many sessions at once, each with its own backend session. The suite opens 250 (a few seconds);
/// the measured capacity, 1,000 sessions, is the performance lab's claim (`./build.sh bench --only emulator`), where
/// a 30-second scenario belongs.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class CapacityTests(BackendFixture backend)
{
    [Fact]
    public async Task Holds_250_concurrent_sessions_that_all_answer()
    {
        const int count = 250;
        await using var emulator = await backend.StartEmulatorAsync();
        var endpoint = emulator.Endpoints[0];
        string connectionString = endpoint.NpgsqlConnectionString("admin", TestTokens.For(emulator, endpoint));
        var connections = new NpgsqlConnection[count];
        try
        {
            using var gate = new SemaphoreSlim(32);
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    var connection = new NpgsqlConnection(connectionString);
                    await connection.OpenAsync();
                    connections[i] = connection;
                }
                finally
                {
                    gate.Release();
                }
            }));
            Assert.Equal(count, emulator.OpenSessionCount);
            var pids = await Task.WhenAll(connections.Select(async c => (int)(await new NpgsqlCommand("SELECT pg_backend_pid()", c).ExecuteScalarAsync())!));
            Assert.Equal(count, pids.Distinct().Count());
        }
        finally
        {
            foreach (var connection in connections)
                if (connection is not null) await connection.DisposeAsync();
        }
    }
}
