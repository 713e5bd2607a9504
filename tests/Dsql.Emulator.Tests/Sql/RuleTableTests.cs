using Dsql.Emulator.Sql;
using Xunit;

namespace Dsql.Emulator.Tests.Sql;

/// <summary>
/// The rule table, family by family, with forms of its own beyond the recorded probes: every place a type
/// appears, every spelling of a type, every DDL form the table names; and what DSQL accepts must pass.
/// </summary>
public class RuleTableTests
{
    private const string Fna = "0A000";

    private static DsqlRejection? Verdict(string sql)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        var statements = list.Where(s => s.Kind != StatementKind.Empty).ToList();
        Assert.Single(statements);
        return statements[0].Rejection;
    }

    private static void AssertRefused(string sql, string sqlState, string message, string? ruleId = null)
    {
        var rejection = Verdict(sql);
        Assert.True(rejection.HasValue, $"expected a refusal of: {sql}");
        Assert.Equal(sqlState, rejection!.Value.SqlState);
        Assert.Equal(message, rejection.Value.Message);
        if (ruleId is not null)
        {
            Assert.Equal(ruleId, rejection.Value.RuleId);
        }
    }

    [Fact]
    public void Every_row_has_a_sqlstate_a_message_a_source_and_a_unique_id()
    {
        Assert.NotEmpty(DsqlRuleTable.Rules);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in DsqlRuleTable.Rules)
        {
            Assert.True(ids.Add(rule.Id), $"duplicate rule id {rule.Id}");
            Assert.Matches("^[0-9A-Z]{5}$", rule.SqlState);
            Assert.False(string.IsNullOrWhiteSpace(rule.Message), rule.Id);
            Assert.False(string.IsNullOrWhiteSpace(rule.Source), rule.Id);
            Assert.Matches("^(recorded|guide|derived|shared facts)", rule.Source);
        }
    }

    [Theory]
    [InlineData("CREATE TABLE [IF NOT EXISTS] ~ ...AS", "CREATE TABLE IF NOT EXISTS s.t AS SELECT 1", true)]
    [InlineData("CREATE TABLE [IF NOT EXISTS] ~ ...AS", "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1))", false)]
    [InlineData("CREATE [UNIQUE] INDEX !ASYNC", "create unique index async i on t (a)", false)]
    [InlineData("CREATE [UNIQUE] INDEX !ASYNC", "create unique index i on t (a)", true)]
    [InlineData("DEALLOCATE [PREPARE] !ALL", "DEALLOCATE PREPARE ALL", false)]
    [InlineData("PREPARE TRANSACTION '", "PREPARE TRANSACTION 'gid'", true)]
    [InlineData("PREPARE TRANSACTION '", "PREPARE transaction AS SELECT 1", false)]
    public void Patterns_match_what_they_say(string pattern, string sql, bool matches)
    {
        var compiled = TokenPattern.Parse(pattern);
        var tokens = new List<SqlToken>();
        var lexer = new SqlLexer(sql);
        while (lexer.Next(out var token))
        {
            tokens.Add(token);
        }

        var view = new StatementView(sql, tokens.ToArray());
        Assert.Equal(matches, compiled.Match(view, 0) >= 0);
    }

    [Theory]
    [InlineData("[UNCLOSED")]
    [InlineData("CREATE <TABLE>")]
    public void A_malformed_pattern_is_refused_when_the_table_loads(string pattern)
    {
        Assert.Throws<FormatException>(() => TokenPattern.Parse(pattern));
    }

    // ---- data types: every place a type appears ---------------------------------------------------------

    [Theory]
    [InlineData("CREATE TABLE t (id int, a money)", "money")]
    [InlineData("CREATE TABLE t (a xml)", "xml")]
    [InlineData("CREATE TABLE t (a inet)", "inet")]
    [InlineData("CREATE TABLE t (a cidr NOT NULL)", "cidr")]
    [InlineData("CREATE TABLE t (a macaddr8)", "macaddr8")]
    [InlineData("CREATE TABLE t (a point, b int)", "point")]
    [InlineData("CREATE TABLE t (a tstzrange)", "tstzrange")]
    [InlineData("CREATE TABLE t (a varbit(4))", "bit varying")]
    [InlineData("CREATE TABLE t (a bit varying(4))", "bit varying")]
    [InlineData("CREATE TABLE t (a pg_catalog.tsvector)", "tsvector")]
    [InlineData("CREATE TABLE IF NOT EXISTS s.t (id uuid PRIMARY KEY, body pg_lsn)", "pg_lsn")]
    [InlineData("ALTER TABLE t ADD COLUMN a money", "money")]
    [InlineData("ALTER TABLE t ADD a int4range", "int4range")]
    [InlineData("ALTER TABLE t ADD COLUMN IF NOT EXISTS a xml", "xml")]
    [InlineData("CREATE DOMAIN d AS money", "money")]
    [InlineData("SELECT '1.50'::money", "money")]
    [InlineData("SELECT CAST('<a/>' AS xml)", "xml")]
    [InlineData("SELECT point '(1,2)'", "point")]
    [InlineData("SELECT x FROM t WHERE c <@ '[1,5)'::int4range", "int4range")]
    [InlineData("SELECT '10.0.0.0/8'::cidr", "cidr")]
    [InlineData("SELECT box(point(0,0), point(1,1))", "box")]
    [InlineData("SELECT numrange(1, 2)", "numrange")]
    public void Unsupported_types_are_refused_wherever_they_appear(string sql, string type)
    {
        AssertRefused(sql, Fna, $"datatype {type} not supported");
    }

    [Theory]
    [InlineData("CREATE TABLE t (a int[])", "integer[]")]
    [InlineData("CREATE TABLE t (a bigint[])", "bigint[]")]
    [InlineData("CREATE TABLE t (a text ARRAY)", "text[]")]
    [InlineData("CREATE TABLE t (a varchar(20)[][] NOT NULL)", "character varying[]")]
    [InlineData("CREATE TABLE t (a int4[3])", "integer[]")]
    [InlineData("CREATE TABLE t (a timestamptz[])", "timestamp with time zone[]")]
    [InlineData("CREATE TABLE t (a double precision[])", "double precision[]")]
    [InlineData("CREATE TABLE t (a uuid[])", "uuid[]")]
    [InlineData("CREATE TABLE t (a jsonb[])", "jsonb[]")]
    [InlineData("ALTER TABLE t ADD COLUMN tags text[]", "text[]")]
    [InlineData("CREATE TABLE t (a my_domain[])", "my_domain[]")]
    public void Array_columns_of_any_element_type_are_refused_by_the_name_DSQL_shows(string sql, string type)
    {
        AssertRefused(sql, Fna, $"datatype {type} not supported", "array_column");
    }

    [Theory]
    [InlineData("CREATE TABLE t (id serial)", "serial")]
    [InlineData("CREATE TABLE t (id SERIAL4 PRIMARY KEY)", "serial4")]
    [InlineData("CREATE TABLE t (id bigserial)", "bigserial")]
    [InlineData("CREATE TABLE t (id smallserial, b text)", "smallserial")]
    [InlineData("CREATE TABLE t (id serial2)", "serial2")]
    [InlineData("ALTER TABLE t ADD COLUMN id serial8", "serial8")]
    public void Serial_types_do_not_exist(string sql, string type)
    {
        AssertRefused(sql, "42704", $"type \"{type}\" does not exist", "serial_type");
    }

    [Theory]
    [InlineData("CREATE TABLE t (a smallint, b integer, c bigint, d real, e double precision, f numeric(1000, 2), g decimal)")]
    [InlineData("CREATE TABLE t (a char(4), b character varying(10), c varchar, d bpchar, e text, f national character varying(3))")]
    [InlineData("CREATE TABLE t (a date, b time(3), c time with time zone, d timestamp(6) without time zone, e timestamptz, f interval day to second(3))")]
    [InlineData("CREATE TABLE t (a boolean, b bytea, c uuid, d json, e jsonb STORAGE PLAIN, f text COLLATE \"C\")")]
    [InlineData("CREATE TABLE t (a my_domain, b public.other_domain)")]
    [InlineData("SELECT '{1,2}'::int[], ARRAY[1, 2], string_to_array('1,2', ',')")]
    [InlineData("SELECT '10.0.0.1'::inet, host('10.0.0.1'::inet)")]
    [InlineData("SELECT CAST(x AS bigint), y::text, z::timestamptz FROM t")]
    [InlineData("SELECT c.oid::regclass, t.typname::text FROM pg_class c JOIN pg_type t ON t.oid = c.reltype")]
    [InlineData("SELECT path, box, line FROM shapes WHERE path = 'a'")]
    [InlineData("INSERT INTO t (point, box) VALUES (1, 2)")]
    [InlineData("CREATE TABLE box (point int, circle text)")]
    public void Supported_types_and_runtime_only_types_in_queries_pass(string sql)
    {
        Assert.Null(Verdict(sql));
    }

    // ---- identity columns and sequences ------------------------------------------------------------------

    [Theory]
    [InlineData("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY)")]
    [InlineData("CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 10))")]
    [InlineData("CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 100))")]
    [InlineData("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 65535) PRIMARY KEY)")]
    [InlineData("ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY")]
    [InlineData("ALTER TABLE t ALTER id ADD GENERATED BY DEFAULT AS IDENTITY (CACHE 2)")]
    public void Identity_columns_need_an_accepted_cache(string sql)
    {
        AssertRefused(sql, Fna, "identity column is not supported without an explicit cache size. please define CACHE greater than or equal to 65536 or equal to 1", "identity_cache");
    }

    [Theory]
    [InlineData("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY (CACHE 1))", "integer")]
    [InlineData("CREATE TABLE t (id smallint GENERATED BY DEFAULT AS IDENTITY (CACHE 65536))", "smallint")]
    [InlineData("CREATE TABLE t (id int4 GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 2 CACHE 70000) PRIMARY KEY)", "integer")]
    public void Identity_columns_must_be_bigint(string sql, string type)
    {
        AssertRefused(sql, Fna, $"datatype {type} not supported, identity column type must be bigint", "identity_type");
    }

    [Theory]
    [InlineData("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY, v text)")]
    [InlineData("CREATE TABLE t (id int8 GENERATED BY DEFAULT AS IDENTITY (START 5 CACHE 65536))")]
    [InlineData("CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED)")]
    [InlineData("CREATE SEQUENCE s CACHE 1")]
    [InlineData("CREATE SEQUENCE IF NOT EXISTS s AS bigint START 10 CACHE 100000")]
    [InlineData("ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (CACHE 65536)")]
    public void Accepted_identity_and_sequence_forms_pass(string sql)
    {
        Assert.Null(Verdict(sql));
    }

    [Theory]
    [InlineData("CREATE SEQUENCE s")]
    [InlineData("CREATE SEQUENCE s CACHE 10")]
    [InlineData("CREATE SEQUENCE IF NOT EXISTS app.s START WITH 1 INCREMENT BY 1")]
    public void Sequences_need_an_accepted_cache(string sql)
    {
        AssertRefused(sql, Fna, "CREATE SEQUENCE is not supported without an explicit cache size. please define CACHE greater than or equal to 65536 or equal to 1", "sequence_cache");
    }

    // ---- ALTER TABLE -----------------------------------------------------------------------------------------

    [Theory]
    [InlineData("ALTER TABLE t ALTER COLUMN a TYPE bigint", "ALTER COLUMN ... SET DATA TYPE")]
    [InlineData("ALTER TABLE t ALTER a SET DATA TYPE money", "ALTER COLUMN ... SET DATA TYPE")]
    [InlineData("ALTER TABLE IF EXISTS ONLY s.t ALTER COLUMN a SET NOT NULL", "ALTER COLUMN ... SET NOT NULL")]
    [InlineData("ALTER TABLE t ALTER COLUMN a SET STATISTICS 100", "ALTER COLUMN ... SET STATISTICS")]
    [InlineData("ALTER TABLE t ALTER COLUMN a SET COMPRESSION pglz", "ALTER COLUMN ... SET COMPRESSION")]
    [InlineData("ALTER TABLE t SET (fillfactor = 70)", "SET")]
    [InlineData("ALTER TABLE t RESET (fillfactor)", "RESET")]
    [InlineData("ALTER TABLE t SET LOGGED", "SET LOGGED")]
    [InlineData("ALTER TABLE t SET UNLOGGED", "SET UNLOGGED")]
    [InlineData("ALTER TABLE t SET TABLESPACE fast", "SET TABLESPACE")]
    [InlineData("ALTER TABLE t CLUSTER ON t_idx", "CLUSTER ON")]
    [InlineData("ALTER TABLE t SET WITHOUT CLUSTER", "SET WITHOUT CLUSTER")]
    [InlineData("ALTER TABLE t ENABLE ROW LEVEL SECURITY", "ENABLE ROW SECURITY")]
    [InlineData("ALTER TABLE t DISABLE TRIGGER ALL", "DISABLE TRIGGER ALL")]
    [InlineData("ALTER TABLE t ENABLE ALWAYS TRIGGER trg", "ENABLE ALWAYS TRIGGER")]
    [InlineData("ALTER TABLE t INHERIT parent", "INHERIT")]
    [InlineData("ALTER TABLE t NO INHERIT parent", "NO INHERIT")]
    [InlineData("ALTER TABLE t REPLICA IDENTITY FULL", "REPLICA IDENTITY")]
    [InlineData("ALTER TABLE p ATTACH PARTITION c FOR VALUES IN (1)", "ATTACH PARTITION")]
    [InlineData("ALTER TABLE t ADD COLUMN b int, ALTER COLUMN a TYPE text", "ALTER COLUMN ... SET DATA TYPE")]
    public void Alter_table_actions_DSQL_does_not_list_are_refused_by_name(string sql, string action)
    {
        AssertRefused(sql, Fna, $"unsupported ALTER TABLE {action} statement", "alter_table_action");
    }

    [Theory]
    [InlineData("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)")]
    [InlineData("ALTER TABLE t ADD CHECK (a > 0)")]
    [InlineData("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES parent (id)")]
    [InlineData("ALTER TABLE t ADD FOREIGN KEY (p) REFERENCES parent ON DELETE CASCADE")]
    [InlineData("ALTER TABLE t ADD PRIMARY KEY (id)")]
    [InlineData("ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)")]
    [InlineData("ALTER TABLE t ADD UNIQUE (a, b)")]
    [InlineData("ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY USING INDEX t_idx")]
    public void Constraints_added_to_existing_tables_need_not_valid_or_an_index(string sql)
    {
        AssertRefused(sql, Fna, "unsupported ALTER TABLE ADD CONSTRAINT statement", "alter_add_constraint");
    }

    [Theory]
    [InlineData("ALTER TABLE t VALIDATE CONSTRAINT c")]
    [InlineData("ALTER TABLE IF EXISTS t VALIDATE CONSTRAINT fk")]
    public void Validating_a_constraint_needs_async(string sql)
    {
        AssertRefused(sql, Fna, "unsupported ALTER TABLE VALIDATE CONSTRAINT statement", "alter_validate_sync");
    }

    [Theory]
    [InlineData("ALTER TABLE t ADD COLUMN a int NOT NULL")]
    [InlineData("ALTER TABLE t ADD COLUMN a int DEFAULT 1")]
    [InlineData("ALTER TABLE t ADD a text CONSTRAINT c CHECK (a <> '')")]
    [InlineData("ALTER TABLE t ADD COLUMN p uuid REFERENCES parent (id)")]
    [InlineData("ALTER TABLE t ADD COLUMN s bigint GENERATED ALWAYS AS IDENTITY (CACHE 1)")]
    public void Columns_added_with_a_constraint_are_refused(string sql)
    {
        AssertRefused(sql, Fna, "ALTER TABLE ADD COLUMN with constraint not supported", "alter_add_column_constraint");
    }

    [Theory]
    [InlineData("ALTER TABLE t ADD COLUMN a int")]
    [InlineData("ALTER TABLE t ADD COLUMN IF NOT EXISTS a text STORAGE EXTERNAL")]
    [InlineData("ALTER TABLE t DROP COLUMN a, DROP COLUMN IF EXISTS b CASCADE")]
    [InlineData("ALTER TABLE t ALTER COLUMN a SET DEFAULT now()")]
    [InlineData("ALTER TABLE t ALTER a DROP DEFAULT")]
    [InlineData("ALTER TABLE t ALTER COLUMN a DROP NOT NULL")]
    [InlineData("ALTER TABLE t ALTER COLUMN a DROP EXPRESSION IF EXISTS")]
    [InlineData("ALTER TABLE t ALTER COLUMN id SET GENERATED BY DEFAULT")]
    [InlineData("ALTER TABLE t ALTER COLUMN id RESTART WITH 100")]
    [InlineData("ALTER TABLE t ALTER COLUMN id DROP IDENTITY IF EXISTS")]
    [InlineData("ALTER TABLE t ALTER COLUMN a SET STORAGE MAIN")]
    [InlineData("ALTER TABLE t ALTER CONSTRAINT fk DEFERRABLE INITIALLY DEFERRED")]
    [InlineData("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID")]
    [InlineData("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES parent (id) NOT VALID")]
    [InlineData("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX t_a_idx")]
    [InlineData("ALTER TABLE t DROP CONSTRAINT IF EXISTS c")]
    [InlineData("ALTER TABLE t OWNER TO app")]
    [InlineData("ALTER TABLE t RENAME TO t2")]
    [InlineData("ALTER TABLE t RENAME COLUMN a TO b")]
    [InlineData("ALTER TABLE t RENAME CONSTRAINT c TO d")]
    [InlineData("ALTER TABLE t SET SCHEMA other")]
    [InlineData("ALTER TABLE ASYNC t VALIDATE CONSTRAINT c")]
    public void Alter_table_forms_in_DSQLs_syntax_pass(string sql)
    {
        Assert.Null(Verdict(sql));
    }

    // ---- types, indexes, other DDL -------------------------------------------------------------------------

    [Theory]
    [InlineData("CREATE TYPE mood AS ENUM ('a')", "CREATE TYPE not supported")]
    [InlineData("CREATE TYPE pair AS (a int, b int)", "unsupported statement: CompositeType")]
    [InlineData("CREATE TYPE r AS RANGE (subtype = int4)", "unsupported statement: CreateRange")]
    [InlineData("CREATE TYPE shell", "CREATE TYPE not supported")]
    [InlineData("ALTER TYPE mood ADD VALUE 'b'", "ALTER TYPE not supported")]
    [InlineData("ALTER TYPE mood RENAME VALUE 'a' TO 'c'", "ALTER TYPE not supported")]
    [InlineData("ALTER TYPE mood RENAME TO feeling", "unsupported object in RENAME statement")]
    [InlineData("ALTER TYPE mood OWNER TO app", "ALTER TYPE not supported")]
    [InlineData("DROP TYPE mood", "unsupported object in DROP statement")]
    [InlineData("DROP TYPE IF EXISTS a, b CASCADE", "unsupported object in DROP statement")]
    [InlineData("DROP EXTENSION pgcrypto", "unsupported object in DROP statement")]
    [InlineData("DROP MATERIALIZED VIEW mv", "unsupported object in DROP statement")]
    [InlineData("DROP TRIGGER trg ON t", "unsupported object in DROP statement")]
    public void User_defined_types_do_not_exist(string sql, string message)
    {
        AssertRefused(sql, Fna, message);
    }

    [Theory]
    [InlineData("CREATE INDEX i ON t (a)")]
    [InlineData("CREATE UNIQUE INDEX i ON t (a, b)")]
    [InlineData("CREATE INDEX ON t (lower(a))")]
    [InlineData("CREATE INDEX CONCURRENTLY i ON t (a)")]
    [InlineData("create index if not exists i on s.t using btree (a) where a > 0")]
    public void Indexes_must_be_built_asynchronously(string sql)
    {
        AssertRefused(sql, Fna, "unsupported mode. please use CREATE INDEX ASYNC.", "index_without_async");
    }

    [Theory]
    [InlineData("CREATE INDEX ASYNC i ON t (a)")]
    [InlineData("CREATE UNIQUE INDEX ASYNC IF NOT EXISTS i ON t (a) INCLUDE (b) NULLS NOT DISTINCT")]
    [InlineData("CREATE INDEX ASYNC ON t (lower(a))")]
    [InlineData("CREATE INDEX ASYNC i ON t (a) WHERE a IS NOT NULL")]
    [InlineData("CREATE VIEW v AS SELECT id FROM t")]
    [InlineData("CREATE OR REPLACE VIEW v (a) AS SELECT 1")]
    [InlineData("CREATE DOMAIN positive AS int CHECK (VALUE > 0)")]
    [InlineData("CREATE SCHEMA app")]
    [InlineData("CREATE STATISTICS st (dependencies) ON a, b FROM t")]
    [InlineData("CREATE TABLE c (id uuid PRIMARY KEY, p uuid REFERENCES parent (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED)")]
    [InlineData("CREATE TABLE t (LIKE other INCLUDING ALL)")]
    [InlineData("CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a $$")]
    [InlineData("DROP TABLE IF EXISTS t CASCADE")]
    [InlineData("DROP DOMAIN positive")]
    [InlineData("COMMENT ON TABLE t IS 'x'")]
    [InlineData("GRANT SELECT ON t TO app")]
    public void Ddl_DSQL_accepts_passes(string sql)
    {
        Assert.Null(Verdict(sql));
    }

    // ---- queries --------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("SELECT to_tsvector('english', body) FROM docs", "english")]
    [InlineData("SELECT to_tsvector(body) FROM docs", "english")]
    [InlineData("SELECT * FROM docs WHERE to_tsvector('simple', body) @@ to_tsquery('simple', 'a')", "simple")]
    [InlineData("SELECT plainto_tsquery('pg_catalog.german', 'x')", "german")]
    [InlineData("SELECT ts_rank(to_tsvector(b), websearch_to_tsquery('q')) FROM d", "english")]
    public void Text_search_configurations_do_not_exist(string sql, string config)
    {
        AssertRefused(sql, "42704", $"text search configuration \"{config}\" does not exist", "text_search_configuration");
    }

    [Theory]
    [InlineData("SELECT * FROM t TABLESAMPLE SYSTEM (10)", Fna, "TABLESAMPLE clause not supported")]
    [InlineData("SELECT * FROM t AS x TABLESAMPLE BERNOULLI (5) REPEATABLE (1)", Fna, "TABLESAMPLE clause not supported")]
    [InlineData("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", Fna, "unsupported statement type: MERGE")]
    [InlineData("SELECT * FROM t FOR SHARE", Fna, "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported")]
    [InlineData("SELECT current_setting('lc_collate')", "42704", "unrecognized configuration parameter \"lc_collate\"")]
    [InlineData("SHOW lc_ctype", "42704", "unrecognized configuration parameter \"lc_ctype\"")]
    [InlineData("SELECT pg_catalog.pg_advisory_lock(1)", Fna, "function pg_advisory_lock not supported")]
    public void Query_features_DSQL_lacks_are_refused(string sql, string sqlState, string message)
    {
        AssertRefused(sql, sqlState, message);
    }

    [Theory]
    [InlineData("SELECT * FROM t WHERE id = $1 FOR UPDATE")]
    [InlineData("SELECT * FROM t FOR KEY SHARE")]
    [InlineData("SET CONSTRAINTS ALL DEFERRED")]
    [InlineData("SET CONSTRAINTS fk_a, fk_b IMMEDIATE")]
    [InlineData("SELECT current_setting('server_version')")]
    [InlineData("SELECT jsonb_build_object('a', 1) -> 'a', '{\"a\":1}'::jsonb @> '{}'")]
    [InlineData("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")]
    [InlineData("ANALYZE t")]
    public void Queries_DSQL_accepts_pass(string sql)
    {
        Assert.Null(Verdict(sql));
    }

    [Theory]
    [InlineData("CREATE TABLE t (a numeric, b decimal NOT NULL, c numeric(10, 2), d dec)", "CREATE TABLE t (a numeric(18,6), b decimal(18,6) NOT NULL, c numeric(10, 2), d dec(18,6))")]
    [InlineData("ALTER TABLE t ADD COLUMN price NUMERIC", "ALTER TABLE t ADD COLUMN price NUMERIC(18,6)")]
    [InlineData("SELECT 1.5::numeric", "SELECT 1.5::numeric")]
    public void Numeric_columns_without_precision_get_DSQLs_default(string sql, string expected)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Equal(expected, SqlAnalyzer.ApplyEdits(sql, list));
    }

    [Theory]
    [InlineData("SHOW server_version", "SELECT pg_catalog.dsql_emulator_show('server_version') AS server_version")]
    [InlineData("show SERVER_VERSION_NUM", "SELECT pg_catalog.dsql_emulator_show('server_version_num') AS server_version_num")]
    [InlineData("SELECT current_setting('server_version')", "SELECT current_setting('dsql_emulator.server_version')")]
    [InlineData("SELECT current_setting('server_version_num', true)::int", "SELECT current_setting('dsql_emulator.server_version_num', true)::int")]
    [InlineData("SHOW timezone", "SHOW timezone")]
    [InlineData("SELECT current_setting('TimeZone')", "SELECT current_setting('TimeZone')")]
    public void Settings_DSQL_reports_differently_are_answered_with_DSQLs_values(string sql, string expected)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Null(list.Single(st => st.Kind != StatementKind.Empty).Rejection);
        Assert.Equal(expected, SqlAnalyzer.ApplyEdits(sql, list));
    }
}
