using System.Text;

namespace Dsql.Emulator.Backend;

/// <summary>
/// What the emulator installs in its backend database (idempotently, as the superuser of its installation target,
/// at a start that does not find this version's installation complete and intact), and the names its sessions use.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Roles: <c>admin</c> is an ordinary role with what DSQL's admin may do (LOGIN, CREATEROLE, CREATE on the
/// database, owner of <c>public</c>). The predefined roles that reach server files and programs or every table are
/// made grantable by superusers only (PostgreSQL 15 lets a CREATEROLE role grant them), and PL/pgSQL is
/// revoked from PUBLIC (DSQL has SQL functions only).</item>
/// <item><see cref="RaiseFunction"/>: lets the proxy turn a refused statement into a real PostgreSQL error, so
/// that the backend's own transaction state (aborted or not) matches DSQL's.</item>
/// <item>Statement-level AFTER triggers with transition tables on every user table (an event trigger adds them to
/// new tables) that count rows and bytes written per transaction against the caps of the emulator the session
/// came through. The statement that crosses a cap fails with 54000 and none of its rows land, as on DSQL.
/// The caps and counts live in tables only the superuser can read or write, reached through a SECURITY DEFINER
/// function: no SET, set_config, RESET, ALTER ROLE/DATABASE ... SET or SQL function of a session can change them.
/// A session names its emulator's caps by the key in <see cref="SessionSetting"/>; a key that is missing or
/// unknown fails every write.</item>
/// <item>Invisible to schema tools: helpers live in <c>pg_catalog</c> under the <see cref="InternalPrefix"/>
/// prefix (no schema of their own; the caps tables grant nothing, so <c>information_schema</c> does not list
/// them), and the triggers are marked internal (<c>pg_trigger.tgisinternal</c>), as PostgreSQL's own
/// foreign-key triggers are: <c>information_schema.triggers</c>, psql and pg_dump skip them, only a superuser may
/// disable them, and they cannot be dropped apart from their table.</item>
/// <item><c>sys.wait_for_job(job)</c>, which DSQL offers for <c>CREATE INDEX ASYNC</c>.</item>
/// </list>
/// </remarks>
internal static class BackendSchema
{
    /// <summary>Prefix of every object the emulator installs; an error context naming it comes from the emulator.</summary>
    public const string InternalPrefix = "dsql_emulator_";

    /// <summary>Function that raises an error with a given SQLSTATE and message: <c>SELECT RaiseFunction(code, message)</c>.</summary>
    public const string RaiseFunction = "pg_catalog." + InternalPrefix + "raise";

    /// <summary>Startup parameter carrying the key of the emulator's caps (added by <see cref="BackendTarget.ForSessions"/>).</summary>
    public const string SessionSetting = "dsql_emulator.session";

    /// <summary>Role the installation may not run as: DSQL's administrative role, which must not be a superuser.</summary>
    public const string AdminRole = "admin";

    private const string InstallSql = """
        BEGIN;
        SELECT pg_advisory_xact_lock(7439001);
        SET LOCAL allow_system_table_mods = on;
        DROP SCHEMA IF EXISTS dsql_emulator CASCADE;
        DROP EVENT TRIGGER IF EXISTS dsql_emulator_tables;

        -- DSQL's admin: creates roles, schemas and tables, owns public, grants; not a superuser.
        DO $do$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'admin') THEN CREATE ROLE admin; END IF;
        END $do$;
        ALTER ROLE admin WITH NOSUPERUSER LOGIN CREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS;
        DO $do$ BEGIN EXECUTE format('GRANT CREATE, CONNECT ON DATABASE %I TO admin', current_database()); END $do$;
        ALTER SCHEMA public OWNER TO admin;
        REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC;
        -- PostgreSQL 15 lets a CREATEROLE role grant any role that is not a superuser, including the predefined roles
        -- that read and write server files, run programs and read or write every table. Marked as superusers, they can
        -- only be granted by a superuser. (Nobody logs in as them; membership in them is what grants their power.)
        DO $do$ DECLARE r record; BEGIN
          FOR r IN SELECT g.rolname AS granted, m.rolname AS member
                     FROM pg_catalog.pg_auth_members a
                     JOIN pg_catalog.pg_roles g ON g.oid = a.roleid
                     JOIN pg_catalog.pg_roles m ON m.oid = a.member
                    WHERE g.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data', 'pg_write_all_data')
                      AND NOT m.rolsuper LOOP
            EXECUTE format('REVOKE %I FROM %I', r.granted, r.member);
          END LOOP;
        END $do$;
        UPDATE pg_catalog.pg_authid SET rolsuper = true
         WHERE rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data', 'pg_write_all_data')
           AND NOT rolsuper;

        -- The limits of each emulator using this database, found by the key its sessions carry as a startup parameter.
        -- A session cannot read this table, so it knows no other key than its own.
        CREATE TABLE IF NOT EXISTS pg_catalog.dsql_emulator_limits (
          session_key text PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid()::text,
          row_limit bigint NOT NULL,
          byte_limit bigint NOT NULL,
          registered_at timestamptz NOT NULL DEFAULT pg_catalog.now());
        REVOKE ALL ON pg_catalog.dsql_emulator_limits FROM PUBLIC;
        -- Rows and bytes written by the current transaction of each backend process; only the counting trigger writes it.
        CREATE UNLOGGED TABLE IF NOT EXISTS pg_catalog.dsql_emulator_writes (
          pid integer PRIMARY KEY,
          xid xid8 NOT NULL,
          row_count bigint NOT NULL,
          byte_count bigint NOT NULL);
        REVOKE ALL ON pg_catalog.dsql_emulator_writes FROM PUBLIC;

        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_raise(code text, message text) RETURNS void
          LANGUAGE plpgsql AS $fn$ BEGIN RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message; END $fn$;

        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_count_writes() RETURNS trigger
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE
          v_rows bigint;
          v_bytes bigint;
          v_total_rows bigint;
          v_total_bytes bigint;
          v_row_limit bigint;
          v_byte_limit bigint;
        BEGIN
          IF TG_OP = 'DELETE' THEN
            SELECT count(*), coalesce(sum(pg_column_size(o.*)), 0) INTO v_rows, v_bytes FROM dsql_old_rows o;
          ELSE
            SELECT count(*), coalesce(sum(pg_column_size(n.*)), 0) INTO v_rows, v_bytes FROM dsql_new_rows n;
          END IF;
          IF v_rows = 0 THEN RETURN NULL; END IF;
          SELECT l.row_limit, l.byte_limit INTO v_row_limit, v_byte_limit
            FROM pg_catalog.dsql_emulator_limits l WHERE l.session_key = current_setting('dsql_emulator.session', true);
          IF NOT FOUND THEN
            IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user) THEN RETURN NULL; END IF;
            RAISE EXCEPTION USING ERRCODE = '42501',
              MESSAGE = 'permission denied to write rows: the session has no DSQL emulator limits (connect through the emulator; dsql_emulator.session cannot be changed)';
          END IF;
          INSERT INTO pg_catalog.dsql_emulator_writes AS w (pid, xid, row_count, byte_count)
          VALUES (pg_backend_pid(), pg_current_xact_id(), v_rows, v_bytes)
          ON CONFLICT (pid) DO UPDATE SET
            row_count = CASE WHEN w.xid = excluded.xid THEN w.row_count + excluded.row_count ELSE excluded.row_count END,
            byte_count = CASE WHEN w.xid = excluded.xid THEN w.byte_count + excluded.byte_count ELSE excluded.byte_count END,
            xid = excluded.xid
          RETURNING w.row_count, w.byte_count INTO v_total_rows, v_total_bytes;
          IF v_total_rows > v_row_limit THEN
            RAISE EXCEPTION USING ERRCODE = '54000', MESSAGE = 'transaction row limit exceeded';
          END IF;
          IF v_total_bytes > v_byte_limit THEN
            RAISE EXCEPTION USING ERRCODE = '54000',
              MESSAGE = 'transaction size limit ' || CASE WHEN v_byte_limit % 1048576 = 0 THEN (v_byte_limit / 1048576)::text || 'mb' ELSE v_byte_limit::text || ' bytes' END || ' exceeded';
          END IF;
          RETURN NULL;
        END $fn$;
        REVOKE ALL ON FUNCTION pg_catalog.dsql_emulator_count_writes() FROM PUBLIC;

        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_watch_table(t regclass) RETURNS void
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE
          counter oid := 'pg_catalog.dsql_emulator_count_writes()'::regprocedure;
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = t AND tgfoid = counter) THEN RETURN; END IF;
          EXECUTE format('CREATE TRIGGER dsql_emulator_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS dsql_new_rows FOR EACH STATEMENT EXECUTE FUNCTION pg_catalog.dsql_emulator_count_writes()', t);
          EXECUTE format('CREATE TRIGGER dsql_emulator_update AFTER UPDATE ON %s REFERENCING NEW TABLE AS dsql_new_rows FOR EACH STATEMENT EXECUTE FUNCTION pg_catalog.dsql_emulator_count_writes()', t);
          EXECUTE format('CREATE TRIGGER dsql_emulator_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS dsql_old_rows FOR EACH STATEMENT EXECUTE FUNCTION pg_catalog.dsql_emulator_count_writes()', t);
          -- Internal triggers: hidden from information_schema, psql and pg_dump, and only a superuser may disable them;
          -- an internal dependency on the table means they go with the table and cannot be dropped alone.
          UPDATE pg_catalog.pg_trigger SET tgisinternal = true WHERE tgrelid = t AND tgfoid = counter;
          UPDATE pg_catalog.pg_depend SET deptype = 'i'
           WHERE classid = 'pg_catalog.pg_trigger'::regclass AND refclassid = 'pg_catalog.pg_class'::regclass AND refobjid = t
             AND objid IN (SELECT oid FROM pg_catalog.pg_trigger WHERE tgrelid = t AND tgfoid = counter);
        END $fn$;
        REVOKE ALL ON FUNCTION pg_catalog.dsql_emulator_watch_table(regclass) FROM PUBLIC;

        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_on_create_table() RETURNS event_trigger
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
            PERFORM pg_catalog.dsql_emulator_watch_table(r.objid::regclass);
          END LOOP;
        END $fn$;
        REVOKE ALL ON FUNCTION pg_catalog.dsql_emulator_on_create_table() FROM PUBLIC;

        DROP EVENT TRIGGER IF EXISTS dsql_emulator_tables;
        CREATE EVENT TRIGGER dsql_emulator_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
          EXECUTE FUNCTION pg_catalog.dsql_emulator_on_create_table();

        SELECT pg_catalog.dsql_emulator_watch_table(c.oid::regclass)
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%';

        CREATE SCHEMA IF NOT EXISTS sys;
        GRANT USAGE ON SCHEMA sys TO PUBLIC;
        CREATE OR REPLACE FUNCTION sys.wait_for_job(job text) RETURNS boolean LANGUAGE sql AS $fn$ SELECT true $fn$;
        COMMIT;
        """;

    /// <summary>
    /// Names the installation's version: the event trigger carries it as its comment once an installation finished,
    /// and a start that finds it (with the rest of <see cref="CurrentCheckSql"/>) has nothing to install.
    /// </summary>
    internal static string InstallationMark { get; } = "dsql-emulator " + Convert.ToHexString(
        System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(InstallSql + "\n" + DdlGuards.InstallSql + "\n" + JobsSchema.InstallSql)))[..32].ToLowerInvariant();

    // One row, 'true', when this version's installation is complete and intact: the mark, the event trigger
    // enabled, admin and the predefined roles as the installation left them, and every user table counting its
    // writes. Anything else (a first start, another version, a change made directly on the backend) installs again.
    private static readonly string CurrentCheckSql = $"""
        SELECT (pg_catalog.obj_description(e.oid, 'pg_event_trigger') = '{InstallationMark}'
                AND e.evtenabled = 'O'
                AND NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = '{AdminRole}'), true)
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_authid a
                                 WHERE a.rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data', 'pg_write_all_data')
                                   AND NOT a.rolsuper)
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                                 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                                   AND (SELECT count(*) FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                                         WHERE t.tgrelid = c.oid AND p.proname = '{InternalPrefix}count_writes'
                                           AND p.pronamespace = 'pg_catalog'::regnamespace) < 3))::text
          FROM pg_catalog.pg_event_trigger e WHERE e.evtname = '{InternalPrefix}tables'
        """;

    /// <summary>
    /// Installs the helpers and the job objects (as the target's superuser) unless this version's installation is
    /// already complete and intact, and registers this emulator's caps. Returns the key its sessions must carry in
    /// <see cref="SessionSetting"/>, and the open superuser connection, which the caller owns (the job runner keeps it).
    /// </summary>
    public static async Task<(string Key, BackendConnection Connection)> InstallAsync(BackendTarget target, long rowLimit, long byteLimit, CancellationToken cancellationToken)
    {
        string user = target.User ?? PostgresCluster.SuperUser;
        if (string.Equals(user, AdminRole, StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"The DSQL emulator's backend login ({target}) must be a superuser other than '{AdminRole}': '{AdminRole}' is DSQL's administrative role, which the emulator makes an ordinary (non-superuser) role.");
        BackendConnection connection;
        try
        {
            connection = await BackendConnection.OpenAsync(target, user, [], cancellationToken, allowSuperuser: true).ConfigureAwait(false);
        }
        catch (BackendErrorException ex)
        {
            throw new InvalidOperationException($"The DSQL emulator could not log in to its PostgreSQL backend ({target}) as '{user}': {ex.Fields.SqlState} {ex.Fields.Message}", ex);
        }
        try
        {
            if (!connection.IsSuperuser)
                throw new InvalidOperationException(
                    $"The DSQL emulator's backend login ({target}) must be a PostgreSQL superuser: it installs an event trigger, internal triggers and helpers in pg_catalog, and makes '{AdminRole}' an ordinary role.");
            try
            {
                var current = await connection.QueryAsync(CurrentCheckSql, cancellationToken).ConfigureAwait(false);
                if (current is not ["true"])
                {
                    await connection.QueryAsync(InstallSql, cancellationToken).ConfigureAwait(false);
                    await connection.QueryAsync(DdlGuards.InstallSql, cancellationToken).ConfigureAwait(false);
                    await JobsSchema.InstallAsync(connection, target, user, cancellationToken).ConfigureAwait(false);
                    await connection.QueryAsync($"COMMENT ON EVENT TRIGGER {InternalPrefix}tables IS '{InstallationMark}'", cancellationToken).ConfigureAwait(false);
                }
                var key = await connection.QueryAsync(
                    string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"INSERT INTO pg_catalog.{InternalPrefix}limits (row_limit, byte_limit) VALUES ({rowLimit}, {byteLimit}) RETURNING session_key"),
                    cancellationToken).ConfigureAwait(false);
                return (key[0] ?? throw new InvalidOperationException("The backend returned no key for the emulator's limits."), connection);
            }
            catch (BackendErrorException ex)
            {
                throw new InvalidOperationException(
                    $"The DSQL emulator could not install its helpers in the backend ({target}) as '{user}': {ex.Fields.SqlState} {ex.Fields.Message}", ex);
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The statement that forgets an emulator's caps (see <see cref="UnregisterAsync"/>).</summary>
    public static string UnregisterSql(string sessionKey)
        => $"DELETE FROM pg_catalog.{InternalPrefix}limits WHERE session_key = '{sessionKey.Replace("'", "''", StringComparison.Ordinal)}'";

    /// <summary>Forgets an emulator's caps (its sessions are closed); best effort, for servers that outlive the emulator.</summary>
    public static async Task UnregisterAsync(BackendTarget target, string sessionKey, CancellationToken cancellationToken)
    {
        using var connection = await BackendConnection.OpenAsync(target, target.User ?? PostgresCluster.SuperUser, [], cancellationToken, allowSuperuser: true).ConfigureAwait(false);
        await connection.QueryAsync(UnregisterSql(sessionKey), cancellationToken).ConfigureAwait(false);
    }
}
