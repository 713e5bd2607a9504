namespace Dsql.Emulator.Backend;

/// <summary>
/// What the emulator installs in its backend database (idempotently, once per start):
/// <list type="bullet">
/// <item><c>dsql_emulator.raise(code, message)</c>: lets the proxy turn a refused statement into a real
/// PostgreSQL error, so that the backend's own transaction state (aborted or not) matches DSQL's.</item>
/// <item>Statement-level AFTER triggers with transition tables on every user table (an event trigger adds them
/// to new tables) that count rows and bytes written per transaction against DSQL's caps. The statement that
/// crosses a cap fails with 54000 and none of its rows land, as on DSQL.</item>
/// </list>
/// </summary>
internal static class BackendSchema
{
    public const string Schema = "dsql_emulator";
    public const string RowLimitSetting = "dsql_emulator.row_limit";
    public const string ByteLimitSetting = "dsql_emulator.byte_limit";

    private const string InstallSql = """
        BEGIN;
        SELECT pg_advisory_xact_lock(7439001);
        CREATE SCHEMA IF NOT EXISTS dsql_emulator;
        GRANT USAGE ON SCHEMA dsql_emulator TO PUBLIC;
        CREATE OR REPLACE FUNCTION dsql_emulator.raise(code text, message text) RETURNS void
          LANGUAGE plpgsql AS $fn$ BEGIN RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message; END $fn$;

        CREATE OR REPLACE FUNCTION dsql_emulator.count_writes() RETURNS trigger LANGUAGE plpgsql AS $fn$
        DECLARE
          added_rows bigint;
          added_bytes bigint;
          total_rows bigint;
          total_bytes bigint;
          row_limit bigint := coalesce(nullif(current_setting('dsql_emulator.row_limit', true), ''), '3000')::bigint;
          byte_limit bigint := coalesce(nullif(current_setting('dsql_emulator.byte_limit', true), ''), '10485760')::bigint;
        BEGIN
          IF TG_OP = 'DELETE' THEN
            SELECT count(*), coalesce(sum(pg_column_size(o.*)), 0) INTO added_rows, added_bytes FROM dsql_old_rows o;
          ELSE
            SELECT count(*), coalesce(sum(pg_column_size(n.*)), 0) INTO added_rows, added_bytes FROM dsql_new_rows n;
          END IF;
          IF added_rows = 0 THEN RETURN NULL; END IF;
          total_rows := coalesce(nullif(current_setting('dsql_emulator.tx_rows', true), ''), '0')::bigint + added_rows;
          total_bytes := coalesce(nullif(current_setting('dsql_emulator.tx_bytes', true), ''), '0')::bigint + added_bytes;
          IF total_rows > row_limit THEN
            RAISE EXCEPTION USING ERRCODE = '54000', MESSAGE = 'transaction row limit exceeded';
          END IF;
          IF total_bytes > byte_limit THEN
            RAISE EXCEPTION USING ERRCODE = '54000',
              MESSAGE = 'transaction size limit ' || CASE WHEN byte_limit % 1048576 = 0 THEN (byte_limit / 1048576)::text || 'mb' ELSE byte_limit::text || ' bytes' END || ' exceeded';
          END IF;
          PERFORM set_config('dsql_emulator.tx_rows', total_rows::text, true);
          PERFORM set_config('dsql_emulator.tx_bytes', total_bytes::text, true);
          RETURN NULL;
        END $fn$;

        CREATE OR REPLACE FUNCTION dsql_emulator.watch_table(t regclass) RETURNS void LANGUAGE plpgsql AS $fn$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = t AND tgname = 'dsql_emulator_insert') THEN RETURN; END IF;
          EXECUTE format('CREATE TRIGGER dsql_emulator_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS dsql_new_rows FOR EACH STATEMENT EXECUTE FUNCTION dsql_emulator.count_writes()', t);
          EXECUTE format('CREATE TRIGGER dsql_emulator_update AFTER UPDATE ON %s REFERENCING NEW TABLE AS dsql_new_rows FOR EACH STATEMENT EXECUTE FUNCTION dsql_emulator.count_writes()', t);
          EXECUTE format('CREATE TRIGGER dsql_emulator_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS dsql_old_rows FOR EACH STATEMENT EXECUTE FUNCTION dsql_emulator.count_writes()', t);
        END $fn$;

        CREATE OR REPLACE FUNCTION dsql_emulator.on_create_table() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
            PERFORM dsql_emulator.watch_table(r.objid::regclass);
          END LOOP;
        END $fn$;

        DROP EVENT TRIGGER IF EXISTS dsql_emulator_tables;
        CREATE EVENT TRIGGER dsql_emulator_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
          EXECUTE FUNCTION dsql_emulator.on_create_table();

        SELECT dsql_emulator.watch_table(c.oid::regclass)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dsql_emulator')
           AND n.nspname NOT LIKE 'pg_toast%';

        COMMIT;
        """;

    public static async Task InstallAsync(BackendTarget target, CancellationToken cancellationToken)
    {
        string user = target.User ?? PostgresCluster.SuperUser;
        BackendConnection connection;
        try
        {
            connection = await BackendConnection.OpenAsync(target, user, [], cancellationToken).ConfigureAwait(false);
        }
        catch (BackendErrorException ex)
        {
            throw new InvalidOperationException($"The DSQL emulator could not log in to its PostgreSQL backend ({target}) as '{user}': {ex.Fields.SqlState} {ex.Fields.Message}", ex);
        }
        using (connection)
        {
            try
            {
                await connection.QueryAsync(InstallSql, cancellationToken).ConfigureAwait(false);
            }
            catch (BackendErrorException ex)
            {
                throw new InvalidOperationException(
                    $"The DSQL emulator could not install its helpers in the backend ({target}) as '{user}': {ex.Fields.SqlState} {ex.Fields.Message}. " +
                    "The row and size limits need an event trigger, which only a superuser may create.", ex);
            }
        }
    }
}
