using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

[Collection(BackendCollection.Name)]
public sealed class SmokeTests(BackendFixture backend)
{
    [Fact]
    public async Task Select_one_through_the_emulator()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, (int)(await command.ExecuteScalarAsync())!);
    }
}

[Collection(BackendCollection.Name)]
public sealed class CancellationTests(BackendFixture backend)
{
    [Fact]
    public async Task A_client_cancel_request_reaches_the_right_backend_session()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        await using var other = await EmulatorConnections.OpenAsync(emulator);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var started = System.Diagnostics.Stopwatch.StartNew();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new NpgsqlCommand("SELECT pg_sleep(30)", connection).ExecuteNonQueryAsync(cancel.Token));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(25), "the statement ran to its end: the cancel never reached the backend");
        var inner = Assert.IsType<PostgresException>(ex.InnerException);
        Assert.Equal("57014", inner.SqlState);
        // Both sessions keep working: the cancel hit only the sleeping one.
        Assert.Equal(1, (int)(await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync())!);
        Assert.Equal(1, (int)(await new NpgsqlCommand("SELECT 1", other).ExecuteScalarAsync())!);
    }
}
