using Dsql.Emulator.Backend;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// A start installs the emulator's helpers in its backend only when this version's installation is missing,
/// of another version or changed behind the emulator's back; otherwise it leaves the installation as it is. Each test
/// damages the shared backend directly as its superuser, and the start under test repairs it.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class BackendInstallationTests(BackendFixture backend)
{
    private const string EventTrigger = BackendSchema.InternalPrefix + "tables";

    private async Task<object?> DirectScalarAsync(string sql)
    {
        await using var direct = backend.OpenDirect();
        await using var command = new NpgsqlCommand(sql, direct);
        return await command.ExecuteScalarAsync();
    }

    private Task<object?> EventTriggerOidAsync() => DirectScalarAsync($"SELECT oid::bigint FROM pg_event_trigger WHERE evtname = '{EventTrigger}'");

    private Task<object?> MarkAsync() => DirectScalarAsync($"SELECT obj_description(oid, 'pg_event_trigger') FROM pg_event_trigger WHERE evtname = '{EventTrigger}'");

    [Fact]
    public async Task A_start_on_a_complete_installation_of_its_version_installs_nothing_and_its_sessions_still_count_writes()
    {
        await (await backend.StartEmulatorAsync()).DisposeAsync();
        var before = await EventTriggerOidAsync();
        Assert.Equal(BackendSchema.InstallationMark, await MarkAsync());

        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxRowsPerTransaction = 2);
        // A full installation drops and creates the event trigger: the same object means none ran.
        Assert.Equal(before, await EventTriggerOidAsync());
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        string table = EmulatorConnections.UniqueName("installed");
        await new NpgsqlCommand($"CREATE TABLE {table} (id int PRIMARY KEY)", connection).ExecuteNonQueryAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand($"INSERT INTO {table} SELECT generate_series(1, 3)", connection).ExecuteNonQueryAsync());
        Assert.Equal("54000", ex.SqlState);
    }

    [Fact]
    public async Task A_mark_of_another_version_makes_the_next_start_install_again()
    {
        await (await backend.StartEmulatorAsync()).DisposeAsync();
        var before = await EventTriggerOidAsync();
        await DirectScalarAsync($"COMMENT ON EVENT TRIGGER {EventTrigger} IS 'dsql-emulator 0000'");

        await using var emulator = await backend.StartEmulatorAsync();
        Assert.NotEqual(before, await EventTriggerOidAsync());
        Assert.Equal(BackendSchema.InstallationMark, await MarkAsync());
    }

    [Fact]
    public async Task A_table_created_while_the_event_trigger_was_off_is_found_and_made_to_count_its_writes()
    {
        await (await backend.StartEmulatorAsync()).DisposeAsync();
        string table = EmulatorConnections.UniqueName("unwatched");
        await DirectScalarAsync($"""
            ALTER EVENT TRIGGER {EventTrigger} DISABLE;
            CREATE TABLE public.{table} (id int PRIMARY KEY);
            ALTER TABLE public.{table} OWNER TO admin;
            ALTER EVENT TRIGGER {EventTrigger} ENABLE;
            """);
        Assert.Equal(0L, await DirectScalarAsync($"SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.{table}'::regclass"));

        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxRowsPerTransaction = 2);
        Assert.Equal(3L, await DirectScalarAsync($"SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.{table}'::regclass AND tgisinternal"));
        await using var connection = await EmulatorConnections.OpenAsync(emulator);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand($"INSERT INTO public.{table} SELECT generate_series(1, 3)", connection).ExecuteNonQueryAsync());
        Assert.Equal("54000", ex.SqlState);
        await DirectScalarAsync($"DROP TABLE public.{table}");
    }

    [Theory]
    [InlineData("ALTER ROLE admin SUPERUSER", "SELECT rolsuper FROM pg_roles WHERE rolname = 'admin'", false)]
    [InlineData("UPDATE pg_authid SET rolsuper = false WHERE rolname = 'pg_read_server_files'", "SELECT rolsuper FROM pg_roles WHERE rolname = 'pg_read_server_files'", true)]
    [InlineData("ALTER EVENT TRIGGER " + EventTrigger + " DISABLE", "SELECT evtenabled = 'O' FROM pg_event_trigger WHERE evtname = '" + EventTrigger + "'", true)]
    [InlineData("DROP EVENT TRIGGER " + EventTrigger, "SELECT count(*) = 1 FROM pg_event_trigger WHERE evtname = '" + EventTrigger + "'", true)]
    public async Task A_change_made_directly_on_the_backend_is_undone_by_the_next_start(string damage, string check, bool expected)
    {
        await (await backend.StartEmulatorAsync()).DisposeAsync();
        try
        {
            await DirectScalarAsync(damage);
            Assert.NotEqual(expected, await DirectScalarAsync(check));
        }
        finally
        {
            await using var emulator = await backend.StartEmulatorAsync();
        }
        Assert.Equal(expected, await DirectScalarAsync(check));
        Assert.Equal(BackendSchema.InstallationMark, await MarkAsync());
    }
}
