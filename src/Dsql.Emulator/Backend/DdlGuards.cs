using Dsql.Emulator.Sql;

namespace Dsql.Emulator.Backend;

/// <summary>
/// DDL rules that need the catalog, enforced inside the backend by event triggers, and DSQL's answers for settings
/// the backend reports differently (installed with <see cref="BackendSchema"/>, invisible like the rest of it):
/// <list type="bullet">
/// <item>DSQL's values of the <see cref="RuleScope.Answer"/> rows (server_version 16.15) as database settings
/// <c>dsql_emulator.&lt;name&gt;</c>, read by <c>current_setting</c> after the analyzer's edit, and
/// <c>pg_catalog.dsql_emulator_show</c>, which answers a rewritten SHOW and marks its result for SHOW's tag.</item>
/// <item>DSQL cannot drop a column of a table's primary key (AWS user guide, ALTER TABLE DROP COLUMN: "Dropping a
/// primary key column isn't supported"). PostgreSQL would drop the column and the key with it. When an ALTER TABLE
/// starts, the primary-key columns of the database are noted (the statement's target is not parsed yet); when it
/// drops objects, a dropped column that was noted fails the statement with the rule table's message, which rolls the
/// drop back.</item>
/// </list>
/// </summary>
internal static class DdlGuards
{
    private const string Template = """
        BEGIN;
        SET LOCAL allow_system_table_mods = on;
        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_note_key_columns() RETURNS event_trigger
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
        BEGIN
          PERFORM set_config('dsql_emulator.key_columns',
            coalesce((SELECT string_agg(i.indrelid::text || '.' || k.attnum::text, ' ')
                        FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) AS k(attnum)
                       WHERE i.indisprimary), ''), true);
        END $fn$;
        REVOKE ALL ON FUNCTION pg_catalog.dsql_emulator_note_key_columns() FROM PUBLIC;

        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_refuse_key_column_drop() RETURNS event_trigger
          LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE
          noted text[] := string_to_array(coalesce(current_setting('dsql_emulator.key_columns', true), ''), ' ');
          d record;
        BEGIN
          FOR d IN SELECT objid, objsubid, address_names FROM pg_event_trigger_dropped_objects()
                    WHERE original AND object_type = 'table column' LOOP
            IF (d.objid::text || '.' || d.objsubid::text) = ANY (noted) THEN
              RAISE EXCEPTION USING ERRCODE = '{sqlstate}', MESSAGE = replace('{message}', '{name}', d.address_names[3]);
            END IF;
          END LOOP;
        END $fn$;
        REVOKE ALL ON FUNCTION pg_catalog.dsql_emulator_refuse_key_column_drop() FROM PUBLIC;

        -- A cycle of row-lock waits (T1 holds A and wants B, T2 holds B and wants A) must have one loser, as on DSQL
        -- where the first COMMIT wins: PostgreSQL's deadlock check (one victim) runs well before the lock wait times
        -- out (which would fail both).
        DO $do$ BEGIN EXECUTE format('ALTER DATABASE %I SET deadlock_timeout = %L', current_database(), '50ms'); END $do$;
        -- What DSQL answers where the backend would answer differently (SHOW server_version, current_setting(...)).
        {answers}
        CREATE OR REPLACE FUNCTION pg_catalog.dsql_emulator_show(setting text) RETURNS text
          LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
        BEGIN
          RAISE NOTICE USING ERRCODE = '01J0B', MESSAGE = 'SHOW ';
          RETURN current_setting('dsql_emulator.' || setting);
        END $fn$;

        DROP EVENT TRIGGER IF EXISTS dsql_emulator_note_key_columns;
        CREATE EVENT TRIGGER dsql_emulator_note_key_columns ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
          EXECUTE FUNCTION pg_catalog.dsql_emulator_note_key_columns();
        DROP EVENT TRIGGER IF EXISTS dsql_emulator_refuse_key_column_drop;
        CREATE EVENT TRIGGER dsql_emulator_refuse_key_column_drop ON sql_drop WHEN TAG IN ('ALTER TABLE')
          EXECUTE FUNCTION pg_catalog.dsql_emulator_refuse_key_column_drop();
        COMMIT;
        """;

    /// <summary>The installation script, with the rule table's SQLSTATE and message.</summary>
    public static string InstallSql { get; } = Build();

    private static string Build()
    {
        DsqlRule rule = DsqlRuleTable.Get("drop_primary_key_column");
        var answers = new System.Text.StringBuilder();
        foreach (var (name, value) in DsqlRuleTable.Answers)
        {
            answers.Append("DO $do$ BEGIN EXECUTE format('ALTER DATABASE %I SET ").Append(DsqlRuleTable.AnswerSettingPrefix).Append(name)
                .Append(" = %L', current_database(), '").Append(value).Append("'); END $do$;\n");
        }

        return Template.Replace("{answers}", answers.ToString(), StringComparison.Ordinal)
            .Replace("{sqlstate}", rule.SqlState, StringComparison.Ordinal)
            .Replace("{message}", rule.Message.Replace("'", "''", StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
