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
