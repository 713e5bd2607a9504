using Dsql.Emulator.Sql;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// The backend behind the emulator is reachable only by the emulator, and sessions through an endpoint have DSQL's
/// privileges: admin is no superuser, and no session can change the caps or see the emulator's own objects.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class BackendSecurityTests(BackendFixture backend)
{
    private const string OtherUser = "nobody";

    // ------------------------------------------------------------------ reachability

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Another_system_user_cannot_reach_the_backend_socket()
    {
        Assert.True(Environment.IsPrivilegedProcess, "this test switches to another system user and needs root");
        var cluster = backend.Cluster;
        string psql = FindPsql(cluster.BinDirectory);
        string[] arguments = ["-X", "-w", "-h", cluster.SocketDirectory, "-p", cluster.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "admin", "-d", "postgres", "-c", "SELECT 42"];

        // The same command as this process's user works (admin logs in on the socket without a password) ...
        var owner = await RunAsync(null, psql, arguments);
        Assert.True(owner.ExitCode == 0 && owner.Output.Contains("42", StringComparison.Ordinal), $"the owner could not use the socket: {owner.Output}");

        // ... and as another user it cannot even reach the socket.
        var other = await RunAsync(OtherUser, psql, arguments);
        Assert.NotEqual(0, other.ExitCode);
        Assert.Contains("Permission denied", other.Output, StringComparison.Ordinal);

        var mode = File.GetUnixFileMode(cluster.SocketDirectory);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, mode);
        var parent = File.GetUnixFileMode(Path.GetDirectoryName(cluster.SocketDirectory)!);
        Assert.Equal(UnixFileMode.None, parent & (UnixFileMode.OtherExecute | UnixFileMode.GroupExecute));
    }

    [Fact]
    public async Task The_backend_has_no_TCP_listener()
    {
        foreach (var address in new[] { IPAddress.Loopback, IPAddress.IPv6Loopback })
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            var ex = await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(address, backend.Cluster.Port));
            Assert.True(ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable or SocketError.NetworkUnreachable, $"{address}: {ex.SocketErrorCode}");
        }
        Assert.Throws<InvalidOperationException>(() => backend.Cluster.TcpConnectionString);
    }

    [Fact]
    public async Task The_superuser_cannot_log_in_without_the_generated_password()
    {
        var builder = new NpgsqlConnectionStringBuilder(backend.Cluster.ConnectionString) { Password = null, Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => connection.OpenAsync());
    }

    [Fact]
    public async Task No_session_through_an_endpoint_is_a_superuser()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        // A correctly signed token for the cluster's superuser does not open a session as that superuser.
        var ex = await Assert.ThrowsAsync<PostgresException>(() => EmulatorConnections.OpenAsync(emulator, PostgresCluster.SuperUser));
        Assert.Equal("28000", ex.SqlState);
        Assert.Equal($"role \"{PostgresCluster.SuperUser}\" is not permitted to log in", ex.MessageText);

        await using var admin = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal("off", await ScalarAsync(admin, "SHOW is_superuser"));
        Assert.Equal(false, await ScalarAsync(admin, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"));
    }

    // ------------------------------------------------------------------ admin's privileges

    [Fact]
    public async Task Admin_cannot_read_server_files_or_run_programs()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var admin = await EmulatorConnections.OpenAsync(emulator);

        await AssertFailsAsync(admin, "SELECT pg_read_file('/etc/passwd')", "42501");
        await AssertFailsAsync(admin, "SELECT pg_ls_dir('/')", "42501");
        await AssertFailsAsync(admin, "SELECT lo_import('/etc/passwd')", "42501");
        await AssertFailsAsync(admin, "COPY (SELECT 1) TO PROGRAM 'id'");
        await AssertFailsAsync(admin, "COPY (SELECT 1) TO '/tmp/dsql-emulator-copy-test'");

        // The same commands from inside a SQL function reach PostgreSQL itself, past the emulator's statement rules.
        string function = EmulatorConnections.UniqueName("run_program");
        await ExecuteAsync(admin, $"CREATE FUNCTION {function}() RETURNS void LANGUAGE sql AS $$ COPY (SELECT 1) TO PROGRAM 'id' $$");
        try
        {
            await AssertFailsAsync(admin, $"SELECT {function}()", "42501");
        }
        finally
        {
            await ExecuteAsync(admin, $"DROP FUNCTION {function}()");
        }

        // PostgreSQL 15 lets a CREATEROLE role grant predefined roles: not these.
        foreach (var role in new[] { "pg_execute_server_program", "pg_read_server_files", "pg_write_server_files", "pg_read_all_data", "pg_write_all_data" })
            await AssertFailsAsync(admin, $"GRANT {role} TO admin", "42501");
        await AssertFailsAsync(admin, "CREATE ROLE escalate_test SUPERUSER", "42501");
        await AssertFailsAsync(admin, $"ALTER ROLE {PostgresCluster.SuperUser} PASSWORD 'x'", "42501");
    }

    [Fact]
    public async Task Admin_can_do_what_DSQL_admin_does()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var admin = await EmulatorConnections.OpenAsync(emulator);
        string role = EmulatorConnections.UniqueName("reader");
        string schema = EmulatorConnections.UniqueName("app");
        string table = EmulatorConnections.UniqueName("items");
        try
        {
            await ExecuteAsync(admin, $"CREATE ROLE {role} WITH LOGIN");
            await ExecuteAsync(admin, $"CREATE SCHEMA {schema}");
            await ExecuteAsync(admin, $"CREATE TABLE {schema}.things (id int PRIMARY KEY)");
            await ExecuteAsync(admin, $"CREATE TABLE public.{table} (id int PRIMARY KEY, note text)");
            await ExecuteAsync(admin, $"INSERT INTO public.{table} VALUES (1, 'one')");
            await ExecuteAsync(admin, $"GRANT USAGE ON SCHEMA public TO {role}");
            await ExecuteAsync(admin, $"GRANT SELECT ON public.{table} TO {role}");

            await using var reader = await EmulatorConnections.OpenAsync(emulator, role);
            Assert.Equal("one", await ScalarAsync(reader, $"SELECT note FROM public.{table} WHERE id = 1"));
            await AssertFailsAsync(reader, $"INSERT INTO public.{table} VALUES (2, 'two')", "42501");
        }
        finally
        {
            await ExecuteAsync(admin, $"DROP TABLE IF EXISTS public.{table}");
            await ExecuteAsync(admin, $"DROP TABLE IF EXISTS {schema}.things");
            await ExecuteAsync(admin, $"DROP SCHEMA IF EXISTS {schema}");
            await ExecuteAsync(admin, $"REVOKE ALL ON SCHEMA public FROM {role}");
            await ExecuteAsync(admin, $"DROP ROLE IF EXISTS {role}");
        }
    }

    // ------------------------------------------------------------------ the caps cannot be changed from a session

    [Fact]
    public async Task No_session_can_lift_the_row_cap_or_reset_its_count()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxRowsPerTransaction = 5);
        await using var admin = await EmulatorConnections.OpenAsync(emulator);
        string table = EmulatorConnections.UniqueName("capped");
        string lift = EmulatorConnections.UniqueName("lift");
        string resetAll = EmulatorConnections.UniqueName("reset_all");
        await ExecuteAsync(admin, $"CREATE TABLE {table} (id int)");
        // SQL functions run inside PostgreSQL, past the emulator's statement rules.
        await ExecuteAsync(admin, $"CREATE FUNCTION {lift}(name text, value text) RETURNS text LANGUAGE sql AS $$ SELECT set_config(name, value, false) $$");
        await ExecuteAsync(admin, $"CREATE FUNCTION {resetAll}() RETURNS void LANGUAGE sql AS $$ RESET ALL $$");
        try
        {
            // Settings of the old design, and the key of this emulator's caps, from any session-level means.
            string[] attempts =
            [
                "SET dsql_emulator.row_limit = '1000000'",
                "SELECT set_config('dsql_emulator.row_limit', '1000000', false)",
                $"SELECT {lift}('dsql_emulator.row_limit', '1000000')",
                "ALTER ROLE admin SET dsql_emulator.row_limit = '1000000'",
                "ALTER DATABASE postgres SET dsql_emulator.row_limit = '1000000'",
                $"ALTER ROLE admin SET {BackendSchema.SessionSetting} = 'forged'",
                $"UPDATE pg_catalog.{BackendSchema.InternalPrefix}limits SET row_limit = 1000000",
                $"DROP TRIGGER {BackendSchema.InternalPrefix}insert ON {table}",
                $"ALTER TABLE {table} DISABLE TRIGGER ALL",
                $"ALTER TABLE {table} DISABLE TRIGGER {BackendSchema.InternalPrefix}insert",
                "SET session_replication_role = replica",
                "SELECT set_config('session_replication_role', 'replica', false)",
                "ALTER ROLE admin SET session_replication_role = replica",
                "RESET ALL",
                $"SELECT {resetAll}()",
            ];
            foreach (var attempt in attempts)
            {
                await TryAsync(admin, attempt);
                await AssertCappedAsync(admin, table, attempt);
                // A new session picks up role and database settings.
                await using var fresh = await EmulatorConnections.OpenAsync(emulator);
                await AssertCappedAsync(fresh, table, attempt + " (new session)");
            }

            // Within a transaction: reset the count after five rows by every means, then write a sixth.
            string[] resets =
            [
                "SELECT set_config('dsql_emulator.tx_rows', '0', true)",
                $"SELECT {lift}('dsql_emulator.tx_rows', '0')",
                $"DELETE FROM pg_catalog.{BackendSchema.InternalPrefix}writes",
                $"UPDATE pg_catalog.{BackendSchema.InternalPrefix}writes SET row_count = 0",
                "RESET ALL",
                $"SELECT {resetAll}()",
            ];
            int resetsThatRan = 0;
            foreach (var reset in resets)
            {
                await using var transaction = await admin.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
                await ExecuteAsync(admin, $"INSERT INTO {table} SELECT generate_series(1, 5)");
                bool resetAccepted = await TryAsync(admin, reset);
                if (resetAccepted)
                {
                    resetsThatRan++;
                    var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(admin, $"INSERT INTO {table} VALUES (6)"));
                    Assert.Equal("54000", ex.SqlState);
                    Assert.Equal("transaction row limit exceeded", ex.MessageText);
                }
                await transaction.RollbackAsync();
            }
            Assert.True(resetsThatRan >= 2, "the resets through SQL functions reach PostgreSQL and run; the cap must hold after them");

            // Removing the key from the session does not fall back to a default cap: writes fail instead.
            foreach (var remove in new[] { $"SELECT {lift}('{BackendSchema.SessionSetting}', '')", $"SELECT {lift}('{BackendSchema.SessionSetting}', 'forged')" })
            {
                await using var session = await EmulatorConnections.OpenAsync(emulator);
                await ExecuteAsync(session, remove);
                var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(session, $"INSERT INTO {table} VALUES (1)"));
                Assert.Equal("42501", ex.SqlState);
            }
        }
        finally
        {
            await TryAsync(admin, "ALTER ROLE admin RESET ALL");
            await ExecuteAsync(admin, $"DROP FUNCTION {lift}(text, text)");
            await ExecuteAsync(admin, $"DROP FUNCTION {resetAll}()");
            await ExecuteAsync(admin, $"DROP TABLE {table}");
        }
    }

    [Fact]
    public async Task Emulators_with_different_caps_share_one_backend_without_seeing_each_others_caps()
    {
        await using var tight = await backend.StartEmulatorAsync(o => o.MaxRowsPerTransaction = 2);
        await using var loose = await backend.StartEmulatorAsync(o => o.MaxRowsPerTransaction = 4);
        await using var tightAdmin = await EmulatorConnections.OpenAsync(tight);
        await using var looseAdmin = await EmulatorConnections.OpenAsync(loose);
        string table = EmulatorConnections.UniqueName("shared");
        await ExecuteAsync(tightAdmin, $"CREATE TABLE {table} (id int)");
        try
        {
            await ExecuteAsync(looseAdmin, $"INSERT INTO {table} SELECT generate_series(1, 4)");
            var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(tightAdmin, $"INSERT INTO {table} SELECT generate_series(1, 3)"));
            Assert.Equal("54000", ex.SqlState);
            await AssertFailsAsync(tightAdmin, $"SELECT * FROM pg_catalog.{BackendSchema.InternalPrefix}limits", "42501");
        }
        finally
        {
            await ExecuteAsync(tightAdmin, $"DROP TABLE {table}");
        }
    }

    // ------------------------------------------------------------------ internals invisible

    [Fact]
    public async Task Schema_catalogs_show_nothing_of_the_emulator()
    {
        await using var emulator = await backend.StartEmulatorAsync();
        await using var admin = await EmulatorConnections.OpenAsync(emulator);
        string table = EmulatorConnections.UniqueName("visible");
        await ExecuteAsync(admin, $"CREATE TABLE {table} (id int PRIMARY KEY, note text)");
        try
        {
            // The table really is watched: its internal triggers exist.
            await using (var direct = backend.OpenDirect())
                Assert.Equal(3L, await ScalarAsync(direct, $"SELECT count(*) FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND tgisinternal"));

            const string Mark = "%dsql_emulator%";
            string[] empty =
            [
                $"SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_name LIKE '{Mark}' OR table_schema LIKE '{Mark}'",
                $"SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_name LIKE '{Mark}' OR column_name LIKE '{Mark}'",
                $"SELECT trigger_name FROM information_schema.triggers",
                $"SELECT routine_schema || '.' || routine_name FROM information_schema.routines WHERE routine_schema NOT IN ('pg_catalog', 'information_schema', 'sys')",
                $"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '{Mark}'",
                $"SELECT nspname FROM pg_namespace WHERE nspname LIKE '{Mark}'",
                $"SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
                $"SELECT tgname FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND NOT tgisinternal",
                $"SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname <> 'sys'",
                $"SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname LIKE '{Mark}' AND n.nspname <> 'pg_catalog'",
                $"SELECT attname FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attname LIKE '{Mark}'",
                $"SELECT schemaname || '.' || indexname FROM pg_indexes WHERE (indexname LIKE '{Mark}' OR tablename LIKE '{Mark}') AND schemaname <> 'pg_catalog'",
                $"SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = '{table}'::regclass AND indexrelid::regclass::text LIKE '{Mark}'",
                $"SELECT evtname FROM pg_event_trigger WHERE evtfoid::regproc::text NOT LIKE '{BackendSchema.InternalPrefix}%'",
            ];
            foreach (var query in empty)
            {
                var rows = await ColumnAsync(admin, query);
                Assert.True(rows.Count == 0, $"{query}\n  shows: {string.Join(", ", rows)}");
            }

            // The helpers a session may call (the one that raises refusals, the one that answers SHOW server_version,
            // the one that submits async jobs) are in
            // pg_catalog like PostgreSQL's own.
            var routines = await ColumnAsync(admin, $"SELECT routine_schema || '.' || routine_name FROM information_schema.routines WHERE routine_name LIKE '{Mark}' ORDER BY 1");
            Assert.Equal([BackendSchema.RaiseFunction, DsqlRuleTable.ShowFunction, JobsSchema.SubmitFunction], routines);

            // What Npgsql's own schema API returns.
            foreach (var collection in new[] { "Tables", "Columns", "Indexes", "Views", "Schemata" })
            {
                using var schema = await admin.GetSchemaAsync(collection);
                foreach (System.Data.DataRow row in schema.Rows)
                    foreach (var value in row.ItemArray)
                        Assert.DoesNotContain("dsql_emulator", value?.ToString() ?? "", StringComparison.OrdinalIgnoreCase);
            }
        }
        finally
        {
            await ExecuteAsync(admin, $"DROP TABLE {table}");
        }
    }

    [Fact]
    public async Task Errors_raised_by_the_caps_carry_no_context_from_the_emulator()
    {
        await using var emulator = await backend.StartEmulatorAsync(o => o.MaxRowsPerTransaction = 1);
        await using var admin = await EmulatorConnections.OpenAsync(emulator);
        string table = EmulatorConnections.UniqueName("context");
        await ExecuteAsync(admin, $"CREATE TABLE {table} (id int)");
        try
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(admin, $"INSERT INTO {table} VALUES (1), (2)"));
            Assert.Equal("54000", ex.SqlState);
            Assert.Null(ex.Where);
            Assert.Null(ex.Routine);
        }
        finally
        {
            await ExecuteAsync(admin, $"DROP TABLE {table}");
        }
    }

    // ------------------------------------------------------------------ attaching

    [Fact]
    public async Task Attaching_as_admin_or_as_a_non_superuser_is_refused_with_the_reason()
    {
        var admin = new NpgsqlConnectionStringBuilder(backend.Cluster.ConnectionString) { Username = "admin", Password = null };
        var asAdmin = await Assert.ThrowsAsync<InvalidOperationException>(() => DsqlEmulator.StartAsync(new DsqlEmulatorOptions { BackendConnectionString = Plain(admin) }));
        Assert.Contains("superuser other than 'admin'", asAdmin.Message, StringComparison.Ordinal);

        string role = EmulatorConnections.UniqueName("plain");
        await using (var direct = backend.OpenDirect())
            await ExecuteAsync(direct, $"CREATE ROLE {role} LOGIN");
        try
        {
            var plain = new NpgsqlConnectionStringBuilder(backend.Cluster.ConnectionString) { Username = role, Password = null };
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => DsqlEmulator.StartAsync(new DsqlEmulatorOptions { BackendConnectionString = Plain(plain) }));
            Assert.Contains("must be a PostgreSQL superuser", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            await using var direct = backend.OpenDirect();
            await ExecuteAsync(direct, $"DROP ROLE {role}");
        }
    }

    [Fact]
    public void The_server_version_is_read_from_postgres_version_output()
    {
        Assert.Equal("15.18", PostgresCluster.ParseVersion("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"));
        Assert.Equal("16.4", PostgresCluster.ParseVersion("postgres (PostgreSQL) 16.4"));
        Assert.Equal("17.0", PostgresCluster.ParseVersion("postgres (PostgreSQL) 17.0 (Ubuntu 17.0-1.pgdg24.04+1)\n"));
    }

    [Fact]
    public async Task The_cluster_reports_the_version_the_server_reports()
    {
        await using var direct = backend.OpenDirect();
        string server = (string)(await ScalarAsync(direct, "SHOW server_version"))!;
        Assert.StartsWith(backend.Cluster.Version, server, StringComparison.Ordinal);
        Assert.Matches(@"^\d+(\.\d+)+$", backend.Cluster.Version);
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>psql beside the server programs (following a link to their real directory), else on PATH.</summary>
    private static string FindPsql(string binDirectory)
    {
        var candidates = new List<string> { Path.Combine(binDirectory, "psql") };
        if (new FileInfo(Path.Combine(binDirectory, "pg_ctl")).ResolveLinkTarget(returnFinalTarget: true) is { } real)
            candidates.Add(Path.Combine(Path.GetDirectoryName(real.FullName)!, "psql"));
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "psql")));
        return candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException("psql is needed to connect as another system user; looked in: " + string.Join(", ", candidates));
    }

    /// <summary>The connection string in the Key=Value form the emulator's backend option takes.</summary>
    private static string Plain(NpgsqlConnectionStringBuilder builder)
        => $"Host={builder.Host};Port={builder.Port};Database={builder.Database};Username={builder.Username}" + (builder.Password is null ? "" : $";Password={builder.Password}");

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> ColumnAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync()) values.Add(reader.IsDBNull(0) ? "(null)" : reader.GetValue(0).ToString()!);
        return values;
    }

    /// <summary>Runs a statement that may be refused; true if it succeeded.</summary>
    private static async Task<bool> TryAsync(NpgsqlConnection connection, string sql)
    {
        try
        {
            await ExecuteAsync(connection, sql);
            return true;
        }
        catch (PostgresException)
        {
            return false;
        }
    }

    private static async Task AssertFailsAsync(NpgsqlConnection connection, string sql, string? sqlState = null)
    {
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, sql));
        if (sqlState is not null) Assert.True(ex.SqlState == sqlState, $"{sql}: {ex.SqlState} {ex.MessageText} (expected {sqlState})");
    }

    /// <summary>Five rows fit in one transaction, six do not: the cap of 5 holds.</summary>
    private static async Task AssertCappedAsync(NpgsqlConnection connection, string table, string after)
    {
        await using (var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead))
        {
            await ExecuteAsync(connection, $"INSERT INTO {table} SELECT generate_series(1, 5)");
            await transaction.RollbackAsync();
        }
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, $"INSERT INTO {table} SELECT generate_series(1, 6)"));
        Assert.True(ex.SqlState == "54000" && ex.MessageText == "transaction row limit exceeded", $"after `{after}`: {ex.SqlState} {ex.MessageText}");
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string? asUser, string program, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo
        {
            FileName = asUser is null ? program : "runuser",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        if (asUser is not null)
        {
            foreach (var part in new[] { "-u", asUser, "--", program }) start.ArgumentList.Add(part);
        }
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment.Remove("PGPASSWORD");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }
}
