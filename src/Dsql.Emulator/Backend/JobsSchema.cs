namespace Dsql.Emulator.Backend;

/// <summary>
/// What the emulator installs in its backend for DSQL's asynchronous DDL jobs (idempotently, with and after
/// <see cref="BackendSchema"/>):
/// <list type="bullet">
/// <item><c>pg_catalog.dsql_emulator_jobs</c>: one row per job, written by the submitting statement (so a job exists exactly
/// when the transaction that asked for it commits) and then by the <see cref="JobRunner"/>. Not readable by
/// sessions.</item>
/// <item><c>sys.jobs</c>: DSQL's view of the jobs, with DSQL's columns, readable by every role.</item>
/// <item><c>pg_catalog.dsql_emulator_submit_job(...)</c> (the last argument names the runner of the emulator the session
/// came through, which claims the job first): what the proxy turns <c>CREATE INDEX ASYNC</c> and
/// <c>ALTER TABLE ASYNC ... VALIDATE CONSTRAINT</c> into. It checks what DSQL checks at once (the table, the
/// owner, the index name, the constraint), records the job, and tells the proxy with a marker notice which
/// command tag the statement should carry.</item>
/// <item><c>sys.wait_for_job(job_id)</c>: DSQL's procedure. It waits in short transactions (it commits between
/// looks, so each look has a fresh snapshot under REPEATABLE READ) and returns one row, <c>succeeded</c>.</item>
/// </list>
/// </summary>
internal static class JobsSchema
{
    /// <summary>SQLSTATE of the notice by which <c>submit_job</c> tells the proxy the command tag and job id.</summary>
    public const string MarkerSqlState = "01J0B";

    /// <summary>The function a submitting statement calls (SECURITY DEFINER; every role may execute it).</summary>
    public const string SubmitFunction = "pg_catalog." + BackendSchema.InternalPrefix + "submit_job";

    /// <summary>Job states, as DSQL names them in <c>sys.jobs.status</c>.</summary>
    public const string Submitted = "submitted";
    public const string Processing = "processing";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    /// <summary>Job types, as DSQL names them in <c>sys.jobs.job_type</c>.</summary>
    public const string IndexBuild = "INDEX_BUILD";
    public const string ValidateConstraint = "VALIDATE_CONSTRAINT";

    /// <summary>DSQL keeps finished jobs in <c>sys.jobs</c> for 30 minutes.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromMinutes(30);

    // A job id is 16 random bytes in lowercase RFC 4648 base32 without padding (26 characters; the last one
    // carries 3 bits and 2 zero bits), the shape DSQL's ids have.
    internal const string InstallSql = """
        BEGIN;
        SELECT pg_advisory_xact_lock(7439001);
        SET LOCAL allow_system_table_mods = on;
        -- The emulator's own table: no event trigger may add write-counting triggers to it.
        SET LOCAL session_replication_role = replica;
        CREATE TABLE IF NOT EXISTS pg_catalog.dsql_emulator_jobs (
          job_id text PRIMARY KEY,
          status text NOT NULL,
          details text,
          job_type text NOT NULL,
          class_id oid,
          object_id oid,
          object_name text,
          start_time timestamptz NOT NULL DEFAULT now(),
          update_time timestamptz NOT NULL DEFAULT now(),
          statement text NOT NULL,
          submitted_by name NOT NULL,
          search_path text NOT NULL,
          table_id oid NOT NULL,
          runner text NOT NULL DEFAULT ''
        );
        REVOKE ALL ON pg_catalog.dsql_emulator_jobs FROM PUBLIC;

        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_new_job_id() RETURNS text LANGUAGE sql VOLATILE
          SET search_path = pg_catalog, pg_temp AS $fn$
          SELECT string_agg(substr('abcdefghijklmnopqrstuvwxyz234567', substring(b FROM g * 5 + 1 FOR 5)::int + 1, 1), '' ORDER BY g)
            FROM (SELECT ('x' || replace(gen_random_uuid()::text, '-', ''))::bit(128) || B'00' AS b) AS bits,
                 generate_series(0, 25) AS g
        $fn$;
        REVOKE ALL ON FUNCTION pg_catalog.dsql_emulator_new_job_id() FROM PUBLIC;

        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_submit_job(job_type text, statement text, target regclass, object text, path text, runner text)
          RETURNS text LANGUAGE plpgsql VOLATILE SECURITY DEFINER
          SET search_path = pg_catalog, pg_temp SET client_min_messages = notice AS $fn$
        DECLARE
          id text := pg_catalog.dsql_emulator_new_job_id();
          rel record;
          tag text;
          object_named text := nullif(object, '');
          qualified text;
          object_oid oid;
        BEGIN
          SELECT c.relname, c.relowner, c.relnamespace, n.nspname INTO rel
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target;
          IF NOT pg_has_role(session_user, rel.relowner, 'USAGE') THEN
            RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = format('must be owner of table %s', rel.relname);
          END IF;
          IF job_type = 'INDEX_BUILD' THEN
            tag := 'CREATE INDEX';
            IF NOT has_schema_privilege(session_user, rel.relnamespace, 'CREATE') THEN
              RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = format('permission denied for schema %s', rel.nspname);
            END IF;
            IF object_named IS NOT NULL THEN
              qualified := rel.nspname || '.' || object_named;
              IF statement !~* '^\s*create\s+(unique\s+)?index\s+concurrently\s+if\s+not\s+exists\s'
                 AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = rel.nspname AND c.relname = object_named) THEN
                RAISE EXCEPTION USING ERRCODE = '42P07', MESSAGE = format('relation "%s" already exists', object_named);
              END IF;
            END IF;
          ELSIF job_type = 'VALIDATE_CONSTRAINT' THEN
            tag := 'ALTER TABLE';
            SELECT oid INTO object_oid FROM pg_constraint WHERE conrelid = target AND conname = object_named;
            IF object_oid IS NULL THEN
              RAISE EXCEPTION USING ERRCODE = '42704',
                MESSAGE = format('constraint "%s" of relation "%s" does not exist', object_named, rel.relname);
            END IF;
            qualified := rel.nspname || '.' || object_named;
          ELSE
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown job type %s', job_type);
          END IF;
          INSERT INTO pg_catalog.dsql_emulator_jobs (job_id, status, job_type, class_id, object_id, object_name, statement, submitted_by, search_path, table_id, runner)
          VALUES (id, 'submitted', job_type,
                  CASE job_type WHEN 'INDEX_BUILD' THEN 'pg_class'::regclass ELSE 'pg_constraint'::regclass END,
                  object_oid, qualified, statement, session_user, coalesce(path, ''), target, coalesce(runner, ''));
          RAISE NOTICE USING ERRCODE = '01J0B', MESSAGE = tag || ' ' || id;
          RETURN id;
        END $fn$;
        REVOKE ALL ON FUNCTION pg_catalog.dsql_emulator_submit_job(text, text, regclass, text, text, text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION pg_catalog.dsql_emulator_submit_job(text, text, regclass, text, text, text) TO PUBLIC;

        CREATE SCHEMA IF NOT EXISTS sys;
        GRANT USAGE ON SCHEMA sys TO PUBLIC;
        CREATE OR REPLACE VIEW sys.jobs AS
          SELECT job_id, status, details, job_type, class_id, object_id, object_name, start_time, update_time
            FROM pg_catalog.dsql_emulator_jobs;
        GRANT SELECT ON sys.jobs TO PUBLIC;

        DROP FUNCTION IF EXISTS sys.wait_for_job(text);
        CREATE OR REPLACE PROCEDURE sys.wait_for_job(job_id text, INOUT succeeded boolean DEFAULT NULL)
          LANGUAGE plpgsql AS $fn$
        DECLARE
          state text;
        BEGIN
          IF job_id IS NULL OR job_id !~ '^[a-z2-7]{25}[aeimquy4]$' THEN
            PERFORM pg_catalog.dsql_emulator_raise('22P02', 'Unable to convert text to UUID');
          END IF;
          LOOP
            SELECT j.status INTO state FROM sys.jobs j WHERE j.job_id = wait_for_job.job_id;
            IF state IS NULL THEN
              PERFORM pg_catalog.dsql_emulator_raise('42704', format('job %s does not exist', job_id));
            ELSIF state = 'completed' THEN
              succeeded := true;
              RETURN;
            ELSIF state IN ('failed', 'cancelled') THEN
              succeeded := false;
              RETURN;
            END IF;
            COMMIT;
            PERFORM pg_sleep(0.02);
          END LOOP;
        END $fn$;
        GRANT EXECUTE ON PROCEDURE sys.wait_for_job(text, boolean) TO PUBLIC;
        COMMIT;
        """;

    /// <summary>Installs the job objects through the installation's connection (a superuser's, as for <see cref="BackendSchema"/>).</summary>
    public static async Task InstallAsync(BackendConnection connection, BackendTarget target, string user, CancellationToken cancellationToken)
    {
        try
        {
            await connection.QueryAsync(InstallSql, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendErrorException ex)
        {
            throw new InvalidOperationException(
                $"The DSQL emulator could not install its job helpers (sys.jobs, sys.wait_for_job) in the backend ({target}) as '{user}': {ex.Fields.SqlState} {ex.Fields.Message}", ex);
        }
    }
}
