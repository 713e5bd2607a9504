using Dsql.Emulator.Sql;
using Xunit;

namespace Dsql.Emulator.Tests.Sql;

public class SqlAnalyzerTests
{
    private const string Fna = "0A000";

    private static StatementInfo Single(string sql)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        var nonEmpty = list.Where(s => s.Kind != StatementKind.Empty).ToList();
        Assert.Single(nonEmpty);
        return nonEmpty[0];
    }

    [Theory]
    // recorded on a real cluster
    [InlineData("TRUNCATE TABLE baseline_parent", StatementKind.Other, Fna, "unsupported statement: Truncate")]
    [InlineData("truncate t", StatementKind.Other, Fna, "unsupported statement: Truncate")]
    [InlineData("CREATE EXTENSION IF NOT EXISTS pgcrypto", StatementKind.Ddl, Fna, "unsupported statement: CreateExtension")]
    [InlineData("CREATE TRIGGER baseline_trg AFTER INSERT ON baseline_parent EXECUTE FUNCTION baseline_fn()", StatementKind.Ddl, Fna, "CREATE TRIGGER not supported")]
    [InlineData("create or replace trigger t before update on x execute function f()", StatementKind.Ddl, Fna, "CREATE TRIGGER not supported")]
    [InlineData("CREATE CONSTRAINT TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()", StatementKind.Ddl, Fna, "CREATE TRIGGER not supported")]
    [InlineData("CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION f()", StatementKind.Ddl, Fna, "unsupported statement: CreateEventTrig")]
    [InlineData("CREATE DATABASE baseline_other", StatementKind.Ddl, Fna, "unsupported statement: Createdb")]
    [InlineData("DROP DATABASE IF EXISTS baseline_other", StatementKind.Ddl, Fna, "unsupported statement: Dropdb")]
    [InlineData("CREATE TEMPORARY TABLE baseline_temp (id int)", StatementKind.Ddl, Fna, "TEMPORARY or TEMP table not supported for CREATE TABLE")]
    [InlineData("create temp table t (id int)", StatementKind.Ddl, Fna, "TEMPORARY or TEMP table not supported for CREATE TABLE")]
    [InlineData("CREATE GLOBAL TEMPORARY TABLE t (id int)", StatementKind.Ddl, Fna, "TEMPORARY or TEMP table not supported for CREATE TABLE")]
    [InlineData("CREATE LOCAL TEMP TABLE t AS SELECT 1", StatementKind.Ddl, Fna, "TEMPORARY or TEMP table not supported for CREATE TABLE")]
    [InlineData("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", StatementKind.Ddl, Fna, "TEMPORARY or TEMP table not supported for CREATE VIEW")]
    [InlineData("CREATE TEMPORARY SEQUENCE s", StatementKind.Ddl, Fna, "TEMPORARY or TEMP table not supported for CREATE SEQUENCE")]
    [InlineData("CREATE UNLOGGED TABLE baseline_unlogged (id int)", StatementKind.Ddl, Fna, "UNLOGGED table not supported for CREATE TABLE")]
    [InlineData("CREATE TABLE baseline_serial (id serial PRIMARY KEY)", StatementKind.Ddl, "42704", "type \"serial\" does not exist")]
    [InlineData("CREATE TABLE t (name text, id BIGSERIAL)", StatementKind.Ddl, "42704", "type \"bigserial\" does not exist")]
    [InlineData("CREATE TABLE IF NOT EXISTS s.t (a numeric(10,2), b smallserial)", StatementKind.Ddl, "42704", "type \"smallserial\" does not exist")]
    [InlineData("CREATE TABLE t (\"id\" Serial8 NOT NULL)", StatementKind.Ddl, "42704", "type \"serial8\" does not exist")]
    [InlineData("ALTER TABLE t ADD COLUMN id serial4", StatementKind.Ddl, "42704", "type \"serial4\" does not exist")]
    [InlineData("ALTER TABLE t ADD id serial2", StatementKind.Ddl, "42704", "type \"serial2\" does not exist")]
    [InlineData("ALTER TABLE t ALTER COLUMN id TYPE serial", StatementKind.Ddl, Fna, "unsupported ALTER TABLE ALTER COLUMN ... SET DATA TYPE statement")]
    [InlineData("ALTER TABLE t ALTER id SET DATA TYPE bigserial", StatementKind.Ddl, Fna, "unsupported ALTER TABLE ALTER COLUMN ... SET DATA TYPE statement")]
    [InlineData("CREATE MATERIALIZED VIEW baseline_mv AS SELECT 1 AS x", StatementKind.Ddl, Fna, "unsupported statement: CreateTableAs")]
    [InlineData("CREATE TABLE baseline_ctas AS SELECT 1 AS x", StatementKind.Ddl, Fna, "unsupported statement: CreateTableAs")]
    [InlineData("CREATE TABLE x (a) AS VALUES (1)", StatementKind.Ddl, Fna, "unsupported statement: CreateTableAs")]
    [InlineData("SELECT * INTO newtab FROM t", StatementKind.Query, Fna, "unsupported statement: CreateTableAs")]
    [InlineData("WITH c AS (SELECT 1) SELECT * INTO newtab FROM c", StatementKind.Query, Fna, "unsupported statement: CreateTableAs")]
    [InlineData("CREATE TYPE baseline_mood AS ENUM ('sad', 'ok')", StatementKind.Ddl, Fna, "CREATE TYPE not supported")]
    [InlineData("CREATE TYPE baseline_pair AS (a int, b int)", StatementKind.Ddl, Fna, "unsupported statement: CompositeType")]
    [InlineData("CREATE TYPE baseline_range AS RANGE (subtype = int4)", StatementKind.Ddl, Fna, "unsupported statement: CreateRange")]
    [InlineData("CREATE TYPE box2 (INPUT = f_in, OUTPUT = f_out)", StatementKind.Ddl, Fna, "CREATE TYPE not supported")]
    [InlineData("CREATE TYPE shell", StatementKind.Ddl, Fna, "CREATE TYPE not supported")]
    [InlineData("CREATE TABLESPACE baseline_ts LOCATION '/tmp/baseline'", StatementKind.Ddl, Fna, "unsupported statement: CreateTableSpace")]
    [InlineData("CREATE FOREIGN TABLE baseline_ft (id int) SERVER baseline_srv", StatementKind.Ddl, Fna, "unsupported statement: CreateForeignTable")]
    [InlineData("CREATE SERVER srv FOREIGN DATA WRAPPER postgres_fdw", StatementKind.Ddl, Fna, "unsupported statement: CreateForeignServer")]
    [InlineData("CREATE FOREIGN DATA WRAPPER w", StatementKind.Ddl, Fna, "unsupported statement: CreateFdw")]
    [InlineData("VACUUM baseline_parent", StatementKind.Other, Fna, "unsupported VACUUM statement")]
    [InlineData("vacuum full analyze", StatementKind.Other, Fna, "unsupported VACUUM statement")]
    [InlineData("LISTEN baseline_chan", StatementKind.Other, Fna, "unsupported statement: Listen")]
    [InlineData("NOTIFY baseline_chan, 'x'", StatementKind.Other, Fna, "unsupported statement: Notify")]
    [InlineData("UNLISTEN *", StatementKind.Other, Fna, "unsupported statement: Unlisten")]
    [InlineData("ALTER SYSTEM SET work_mem = '4MB'", StatementKind.Ddl, Fna, "unsupported statement: AlterSystem")]
    [InlineData("CREATE FUNCTION baseline_plpgsql() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$", StatementKind.Ddl, Fna, "CREATE FUNCTION with language plpgsql not supported")]
    [InlineData("CREATE OR REPLACE FUNCTION f(a int) RETURNS int AS $body$ BEGIN RETURN a; END $body$ LANGUAGE PLPGSQL", StatementKind.Ddl, Fna, "CREATE FUNCTION with language plpgsql not supported")]
    [InlineData("CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE 'plpython3u'", StatementKind.Ddl, Fna, "CREATE FUNCTION with language plpython3u not supported")]
    [InlineData("CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN NULL; END $$", StatementKind.Ddl, Fna, "CREATE PROCEDURE with language plpgsql not supported")]
    [InlineData("DO $$ BEGIN PERFORM 1; END $$", StatementKind.Other, Fna, "unsupported statement: Do")]
    [InlineData("SAVEPOINT baseline_sp", StatementKind.Other, Fna, "unsupported transaction statement: SAVEPOINT")]
    [InlineData("ROLLBACK TO SAVEPOINT baseline_sp", StatementKind.Other, Fna, "unsupported transaction statement: ROLLBACK TO")]
    [InlineData("rollback work to sp", StatementKind.Other, Fna, "unsupported transaction statement: ROLLBACK TO")]
    [InlineData("RELEASE SAVEPOINT sp", StatementKind.Other, Fna, "unsupported transaction statement: RELEASE")]
    [InlineData("PREPARE TRANSACTION 'gid'", StatementKind.Other, Fna, "unsupported transaction statement: PREPARE TRANSACTION")]
    [InlineData("COMMIT PREPARED 'gid'", StatementKind.Other, Fna, "unsupported transaction statement: COMMIT PREPARED")]
    [InlineData("ROLLBACK PREPARED 'gid'", StatementKind.Other, Fna, "unsupported transaction statement: ROLLBACK PREPARED")]
    [InlineData("BEGIN ISOLATION LEVEL SERIALIZABLE", StatementKind.Begin, Fna, "Unsupported isolation level: SERIALIZABLE")]
    [InlineData("begin transaction read write, isolation   level read\n committed", StatementKind.Begin, Fna, "Unsupported isolation level: READ COMMITTED")]
    [InlineData("START TRANSACTION ISOLATION LEVEL READ UNCOMMITTED", StatementKind.Begin, Fna, "Unsupported isolation level: READ UNCOMMITTED")]
    [InlineData("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", StatementKind.Other, Fna, "Unsupported isolation level: SERIALIZABLE")]
    [InlineData("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", StatementKind.Other, Fna, "setting configuration parameter \"TRANSACTION\" not supported")]
    [InlineData("SET TRANSACTION READ ONLY", StatementKind.Other, Fna, "setting configuration parameter \"TRANSACTION\" not supported")]
    [InlineData("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", StatementKind.Other, Fna, "setting configuration parameter \"TRANSACTION\" not supported")]
    [InlineData("SET default_transaction_isolation = 'repeatable read'", StatementKind.Other, Fna, "setting configuration parameter \"default_transaction_isolation\" not supported")]
    [InlineData("SET LOCAL Work_Mem TO '4MB'", StatementKind.Other, Fna, "setting configuration parameter \"Work_Mem\" not supported")]
    [InlineData("SET \"statement_timeout\" = 0", StatementKind.Other, Fna, "setting configuration parameter \"statement_timeout\" not supported")]
    [InlineData("SET myapp.user_id = '42'", StatementKind.Other, Fna, "setting configuration parameter \"myapp.user_id\" not supported")]
    [InlineData("RESET ALL", StatementKind.Other, Fna, "setting configuration parameter \"ALL\" not supported")]
    [InlineData("RESET statement_timeout", StatementKind.Other, Fna, "setting configuration parameter \"statement_timeout\" not supported")]
    [InlineData("SET ROLE admin", StatementKind.Other, Fna, "setting configuration parameter \"role\" not supported")]
    [InlineData("SET SESSION AUTHORIZATION bob", StatementKind.Other, Fna, "setting configuration parameter \"session_authorization\" not supported")]
    [InlineData("DISCARD ALL", StatementKind.Other, Fna, "unsupported statement: Discard")]
    [InlineData("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", StatementKind.Other, Fna, "unsupported statement: Lock")]
    [InlineData("PREPARE q (int) AS SELECT $1", StatementKind.Other, Fna, "unsupported statement: Prepare")]
    [InlineData("EXECUTE q(1)", StatementKind.Other, Fna, "unsupported statement: Execute")]
    [InlineData("DEALLOCATE PREPARE q", StatementKind.Other, Fna, "unsupported statement: Deallocate")]
    [InlineData("DECLARE c CURSOR FOR SELECT 1", StatementKind.Other, Fna, "unsupported statement: DeclareCursor")]
    [InlineData("FETCH NEXT FROM c", StatementKind.Other, Fna, "unsupported statement: Fetch")]
    [InlineData("MOVE FORWARD 2 IN c", StatementKind.Other, Fna, "unsupported statement: Fetch")]
    [InlineData("CLOSE c", StatementKind.Other, Fna, "unsupported statement: ClosePortal")]
    [InlineData("COPY t FROM '/tmp/data.csv'", StatementKind.Dml, Fna, "unsupported statement: Copy to or from a file or program")]
    [InlineData("COPY (SELECT 1) TO PROGRAM 'cat'", StatementKind.Query, Fna, "unsupported statement: Copy to or from a file or program")]
    [InlineData("SELECT pg_advisory_lock(1)", StatementKind.Query, Fna, "function pg_advisory_lock not supported")]
    [InlineData("SELECT PG_CATALOG.PG_TRY_ADVISORY_XACT_LOCK(1, 2)", StatementKind.Query, Fna, "function pg_try_advisory_xact_lock not supported")]
    [InlineData("SELECT \"pg_advisory_unlock_all\"()", StatementKind.Query, Fna, "function pg_advisory_unlock_all not supported")]
    [InlineData("UPDATE t SET a = 1 WHERE pg_try_advisory_lock (id)", StatementKind.Dml, Fna, "function pg_try_advisory_lock not supported")]
    [InlineData("SELECT id FROM baseline_parent WHERE id = '00000000-0000-0000-0000-0000000000aa' FOR SHARE", StatementKind.Query, Fna, "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported")]
    [InlineData("SELECT id FROM p WHERE id = 1 for no key update", StatementKind.Query, Fna, "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported")]
    [InlineData("SELECT * FROM t WHERE a IN (SELECT a FROM u FOR SHARE SKIP LOCKED)", StatementKind.Query, Fna, "locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported")]
    [InlineData("ALTER TABLE baseline_alter ADD COLUMN seq2 bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1)", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("ALTER TABLE baseline_alter ADD COLUMN nn int NOT NULL DEFAULT 0", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("ALTER TABLE baseline_alter ADD COLUMN df int DEFAULT 7", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("ALTER TABLE baseline_alter ADD COLUMN ck int CHECK (ck > 0)", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("ALTER TABLE baseline_alter ADD COLUMN uq int UNIQUE", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("ALTER TABLE IF EXISTS ONLY s.t ADD IF NOT EXISTS c uuid REFERENCES p (id)", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("ALTER TABLE t ADD COLUMN a int, ADD COLUMN b numeric(5,2) CONSTRAINT pos CHECK (b > 0)", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("ALTER TABLE t ADD c int PRIMARY KEY", StatementKind.Ddl, Fna, "ALTER TABLE ADD COLUMN with constraint not supported")]
    [InlineData("CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING", StatementKind.Ddl, Fna, "unsupported statement: Rule")]
    [InlineData("CREATE PUBLICATION pub FOR ALL TABLES", StatementKind.Ddl, Fna, "unsupported statement: CreatePublication")]
    [InlineData("CREATE SUBSCRIPTION sub CONNECTION 'x' PUBLICATION pub", StatementKind.Ddl, Fna, "unsupported statement: CreateSubscription")]
    [InlineData("CLUSTER t USING t_pkey", StatementKind.Other, Fna, "unsupported statement: Cluster")]
    [InlineData("REINDEX TABLE t", StatementKind.Other, Fna, "unsupported statement: Reindex")]
    [InlineData("CHECKPOINT", StatementKind.Other, Fna, "unsupported statement: CheckPoint")]
    [InlineData("LOAD 'auto_explain'", StatementKind.Other, Fna, "unsupported statement: Load")]
    [InlineData("CREATE TABLE m (d date, v int) PARTITION BY RANGE (d)", StatementKind.Ddl, Fna, "unsupported statement: partitioned tables")]
    [InlineData("CREATE TABLE c (x int) INHERITS (p)", StatementKind.Ddl, Fna, "unsupported statement: table inheritance")]
    [InlineData("CREATE TABLE t (id int) TABLESPACE fast", StatementKind.Ddl, Fna, "unsupported statement: CreateTableSpace")]
    [InlineData("/* leading */ -- comment\n  TRUNCATE t", StatementKind.Other, Fna, "unsupported statement: Truncate")]
    [InlineData("/* outer /* nested ; */ still comment */ LISTEN x", StatementKind.Other, Fna, "unsupported statement: Listen")]
    public void Rejects(string sql, object kind, string sqlState, string message)
    {
        // 'object' because StatementKind is internal and test methods are public.
        StatementInfo info = Single(sql);
        Assert.Equal((StatementKind)kind, info.Kind);
        Assert.NotNull(info.Rejection);
        Assert.Equal(sqlState, info.Rejection!.Value.SqlState);
        Assert.Equal(message, info.Rejection.Value.Message);
    }

    [Theory]
    [InlineData("SELECT 1", StatementKind.Query)]
    [InlineData("SELECT * FROM t WHERE id = $1", StatementKind.Query)]
    [InlineData("select 'TRUNCATE'", StatementKind.Query)]
    [InlineData("SELECT \"truncate\" FROM t", StatementKind.Query)]
    [InlineData("SELECT 1 -- TRUNCATE t", StatementKind.Query)]
    [InlineData("SELECT $$ ; TRUNCATE t; $$", StatementKind.Query)]
    [InlineData("SELECT $tag$ it's $$ nested ; $tag$", StatementKind.Query)]
    [InlineData("SELECT E'it\\'s ; VACUUM'", StatementKind.Query)]
    [InlineData("SELECT 'pg_advisory_lock(1)', \"for\" FROM t", StatementKind.Query)]
    [InlineData("SELECT * FROM t FOR UPDATE", StatementKind.Query)]
    [InlineData("SELECT * FROM t FOR KEY SHARE", StatementKind.Query)]
    [InlineData("SELECT * FROM t FOR UPDATE OF t NOWAIT", StatementKind.Query)]
    [InlineData("VALUES (1), (2)", StatementKind.Query)]
    [InlineData("TABLE t", StatementKind.Query)]
    [InlineData("SHOW search_path", StatementKind.Query)]
    [InlineData("EXPLAIN SELECT 1", StatementKind.Query)]
    [InlineData("(SELECT 1) UNION (SELECT 2)", StatementKind.Query)]
    [InlineData("WITH x AS (SELECT 1) SELECT * FROM x", StatementKind.Query)]
    [InlineData("WITH x AS (SELECT * FROM t FOR UPDATE) SELECT * FROM x", StatementKind.Query)]
    [InlineData("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", StatementKind.Dml)]
    [InlineData("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", StatementKind.Dml)]
    [InlineData("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = excluded.a", StatementKind.Dml)]
    [InlineData("UPDATE t SET a = 1", StatementKind.Dml)]
    [InlineData("DELETE FROM t", StatementKind.Dml)]
    [InlineData("COPY t (a, b) FROM STDIN WITH (FORMAT csv)", StatementKind.Dml)]
    [InlineData("COPY (SELECT * FROM t) TO STDOUT", StatementKind.Query)]
    [InlineData("CREATE TABLE x (id bigint GENERATED ALWAYS AS IDENTITY (CACHE 65536))", StatementKind.Ddl)]
    [InlineData("CREATE TABLE t (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), \"serial\" text, n int, CONSTRAINT c CHECK (n > 0))", StatementKind.Ddl)]
    [InlineData("CREATE TABLE t (serial int, x \"serial_type\")", StatementKind.Ddl)]
    [InlineData("CREATE FUNCTION baseline_fn() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", StatementKind.Ddl)]
    [InlineData("CREATE OR REPLACE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE SQL", StatementKind.Ddl)]
    [InlineData("CREATE FUNCTION f() RETURNS int RETURN 1", StatementKind.Ddl)]
    [InlineData("CREATE DOMAIN d AS int CHECK (VALUE > 0)", StatementKind.Ddl)]
    [InlineData("CREATE VIEW v AS SELECT 1", StatementKind.Ddl)]
    [InlineData("DROP INDEX i", StatementKind.Ddl)]
    [InlineData("CREATE POLICY p ON t FOR SELECT USING (true)", StatementKind.Ddl)]
    [InlineData("CREATE SCHEMA s", StatementKind.Ddl)]
    [InlineData("CREATE SEQUENCE s CACHE 1", StatementKind.Ddl)]
    [InlineData("ALTER TABLE t ADD COLUMN c text", StatementKind.Ddl)]
    [InlineData("ALTER TABLE t ADD COLUMN c text NULL COLLATE \"C\"", StatementKind.Ddl)]
    [InlineData("ALTER TABLE t ADD c numeric(10, 2), ADD d int", StatementKind.Ddl)]
    [InlineData("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i", StatementKind.Ddl)]
    [InlineData("ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES p (id) NOT VALID", StatementKind.Ddl)]
    [InlineData("ALTER TABLE t ADD CHECK (a > 0) NOT VALID", StatementKind.Ddl)]
    [InlineData("ALTER TABLE t ALTER COLUMN a SET DEFAULT 1", StatementKind.Ddl)]
    [InlineData("DROP TABLE t", StatementKind.Ddl)]
    [InlineData("COMMENT ON TABLE t IS 'TRUNCATE'", StatementKind.Ddl)]
    [InlineData("GRANT SELECT ON t TO r", StatementKind.Other)]
    [InlineData("REVOKE ALL ON t FROM r", StatementKind.Other)]
    [InlineData("ANALYZE t", StatementKind.Other)]
    [InlineData("BEGIN", StatementKind.Begin)]
    [InlineData("begin work", StatementKind.Begin)]
    [InlineData("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", StatementKind.Begin)]
    [InlineData("BEGIN READ WRITE", StatementKind.Begin)]
    [InlineData("START TRANSACTION READ ONLY", StatementKind.Begin)]
    [InlineData("COMMIT", StatementKind.Commit)]
    [InlineData("END", StatementKind.Commit)]
    [InlineData("COMMIT AND NO CHAIN", StatementKind.Commit)]
    [InlineData("ROLLBACK", StatementKind.Rollback)]
    [InlineData("ROLLBACK WORK", StatementKind.Rollback)]
    [InlineData("abort", StatementKind.Rollback)]
    [InlineData("SET search_path TO public", StatementKind.Other)]
    [InlineData("SET SESSION TimeZone = 'UTC'", StatementKind.Other)]
    [InlineData("SET LOCAL \"DateStyle\" TO ISO", StatementKind.Other)]
    [InlineData("SET extra_float_digits = 3", StatementKind.Other)]
    [InlineData("SET client_encoding = 'UTF8'", StatementKind.Other)]
    [InlineData("SET intervalstyle = postgres", StatementKind.Other)]
    [InlineData("SET TIME ZONE 'UTC'", StatementKind.Other)]
    [InlineData("SET NAMES 'UTF8'", StatementKind.Other)]
    [InlineData("SET SCHEMA 'public'", StatementKind.Other)]
    [InlineData("RESET timezone", StatementKind.Other)]
    [InlineData("DEALLOCATE ALL", StatementKind.Other)]
    [InlineData("DEALLOCATE PREPARE ALL", StatementKind.Other)]
    public void Accepts(string sql, object kind)
    {
        StatementInfo info = Single(sql);
        Assert.Null(info.Rejection);
        Assert.Equal((StatementKind)kind, info.Kind);
        Assert.Equal(-1, info.AsyncKeywordStart);
    }

    [Fact]
    public void SplitsStatementsWithOffsets()
    {
        const string sql = "SELECT 1; TRUNCATE t";
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Equal(2, list.Count);
        Assert.Equal(StatementKind.Query, list[0].Kind);
        Assert.Null(list[0].Rejection);
        Assert.Equal("SELECT 1", list[0].GetText(sql));
        Assert.Equal(0, list[0].Start);
        Assert.Equal(8, list[0].Length);
        Assert.Equal(10, list[1].Start);
        Assert.Equal("TRUNCATE t", list[1].GetText(sql));
        Assert.Equal("unsupported statement: Truncate", list[1].Rejection!.Value.Message);
    }

    [Fact]
    public void StartSkipsCommentsAndLengthStopsAtSemicolon()
    {
        const string sql = "  /* c */ -- x\n INSERT INTO t VALUES (';') ;\n\t;  ";
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Equal(3, list.Count);
        Assert.Equal(StatementKind.Dml, list[0].Kind);
        Assert.Equal(sql.IndexOf("INSERT", StringComparison.Ordinal), list[0].Start);
        Assert.Equal("INSERT INTO t VALUES (';') ", list[0].GetText(sql));
        Assert.Equal(StatementKind.Empty, list[1].Kind);
        Assert.Equal(0, list[1].Length);
        Assert.Null(list[1].Rejection);
        Assert.Equal(StatementKind.Empty, list[2].Kind);
        Assert.Null(list[2].Rejection);
    }

    [Theory]
    [InlineData("", new[] { StatementKind.Empty })]
    [InlineData("  -- only a comment", new[] { StatementKind.Empty })]
    [InlineData("SELECT 1;", new[] { StatementKind.Query, StatementKind.Empty })]
    [InlineData("BEGIN; INSERT INTO t VALUES (1); COMMIT", new[] { StatementKind.Begin, StatementKind.Dml, StatementKind.Commit })]
    [InlineData("SELECT ';' ; SELECT \";\" FROM t; SELECT $x$;$x$", new[] { StatementKind.Query, StatementKind.Query, StatementKind.Query })]
    [InlineData("SELECT /* ; /* ; */ ; */ 1; ROLLBACK", new[] { StatementKind.Query, StatementKind.Rollback })]
    [InlineData("SELECT 'unterminated; TRUNCATE t", new[] { StatementKind.Query })]
    [InlineData("SELECT $$ unterminated; TRUNCATE t", new[] { StatementKind.Query })]
    [InlineData("SELECT \"unterminated; TRUNCATE t", new[] { StatementKind.Query })]
    [InlineData("SELECT 1 /* unterminated; TRUNCATE t", new[] { StatementKind.Query })]
    [InlineData("SELECT E'\\'; TRUNCATE t'", new[] { StatementKind.Query })]
    [InlineData("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END; SELECT 3", new[] { StatementKind.Ddl, StatementKind.Query })]
    [InlineData(")))((( ; $ $a ;", new[] { StatementKind.Other, StatementKind.Other, StatementKind.Empty })]
    public void SplitsIntoKinds(string sql, object kinds)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Equal((StatementKind[])kinds, list.Select(s => s.Kind).ToArray());
        Assert.All(list, s => Assert.Null(s.Rejection));
    }

    [Fact]
    public void ReusesTheList()
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze("SELECT 1; SELECT 2; SELECT 3", list);
        SqlAnalyzer.Analyze("COMMIT", list);
        Assert.Single(list);
        Assert.Equal(StatementKind.Commit, list[0].Kind);
    }

    [Theory]
    [InlineData("SELECT 1", 0)]
    [InlineData("SELECT * FROM t WHERE id = $1", 1)]
    [InlineData("SELECT $2, $10, $3", 10)]
    [InlineData("SELECT '$5', \"$6\", $$ $7 $$, $q$ $8 $q$ -- $9\n, $1 /* $11 */", 1)]
    [InlineData("SELECT a$1 FROM t", 0)]
    [InlineData("SELECT $99999999999", int.MaxValue)]
    [InlineData("SELECT $", 0)]
    public void FindsMaxParameterIndex(string sql, int expected) =>
        Assert.Equal(expected, SqlAnalyzer.MaxParameterIndex(sql));

    [Theory]
    [InlineData("CREATE INDEX ASYNC i ON t (a)", "CREATE INDEX       i ON t (a)", 13)]
    [InlineData("create unique index async if not exists i on t (a)", "create unique index       if not exists i on t (a)", 20)]
    [InlineData("CREATE INDEX ASYNC ON t (a)", "CREATE INDEX       ON t (a)", 13)]
    public void FindsAndRemovesAsync(string sql, string expected, int asyncStart)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Single(list);
        Assert.Equal(StatementKind.Ddl, list[0].Kind);
        Assert.Null(list[0].Rejection);
        Assert.Equal(asyncStart, list[0].AsyncKeywordStart);
        Assert.Equal(expected, SqlAnalyzer.RemoveAsyncIndexKeyword(sql, list));
    }

    [Fact]
    public void RemovesAsyncInEveryStatementOnly()
    {
        const string sql = "SELECT 'ASYNC'; CREATE INDEX async a ON t (x); CREATE INDEX \"async\" ON t (y); CREATE INDEX ASYNC b ON t (z)";
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Equal(new[] { -1, sql.IndexOf("async a", StringComparison.Ordinal), -1, sql.IndexOf("ASYNC b", StringComparison.Ordinal) },
            list.Select(s => s.AsyncKeywordStart).ToArray());
        Assert.Equal(
            "SELECT 'ASYNC'; CREATE INDEX       a ON t (x); CREATE INDEX \"async\" ON t (y); CREATE INDEX       b ON t (z)",
            SqlAnalyzer.RemoveAsyncIndexKeyword(sql, list));
    }

    [Fact]
    public void ReturnsSameInstanceWithoutAsync()
    {
        const string sql = "CREATE INDEX i ON t (a)";
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.Same(sql, SqlAnalyzer.RemoveAsyncIndexKeyword(sql, list));
    }

    [Theory]
    [InlineData("'")]
    [InlineData("\"")]
    [InlineData("$")]
    [InlineData("$$")]
    [InlineData("$a")]
    [InlineData("E'\\")]
    [InlineData("/*")]
    [InlineData("--")]
    [InlineData("CREATE")]
    [InlineData("CREATE TABLE")]
    [InlineData("CREATE TABLE t (")]
    [InlineData("ALTER TABLE t ADD")]
    [InlineData("ALTER TABLE t ADD COLUMN")]
    [InlineData("SET")]
    [InlineData("SET LOCAL")]
    [InlineData("RESET")]
    [InlineData("BEGIN ISOLATION LEVEL")]
    [InlineData("COPY t FROM")]
    [InlineData("SELECT pg_advisory_lock")]
    [InlineData("CREATE FUNCTION f() LANGUAGE")]
    [InlineData("\0\u00e9\u2028;;\uffff")]
    public void NeverThrowsOnGarbage(string sql)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        Assert.NotEmpty(list);
        Assert.All(list, s => Assert.InRange(s.Start + s.Length, 0, sql.Length));
        _ = SqlAnalyzer.MaxParameterIndex(sql);
        Assert.Same(sql, SqlAnalyzer.RemoveAsyncIndexKeyword(sql, list));
    }
    [Fact]
    public void NeverThrowsOnRandomFragments()
    {
        string[] parts =
        [
            "SELECT", "CREATE", "TABLE", "ALTER", "ADD", "COLUMN", "SET", "RESET", "BEGIN", "END", "ATOMIC", "FUNCTION",
            "TYPE", "AS", "INDEX", "ASYNC", "FOR", "SHARE", "NO", "KEY", "UPDATE", "INTO", "COPY", "FROM", "TO",
            "LANGUAGE", "ISOLATION", "LEVEL", "serial", "pg_advisory_lock", "(", ")", ",", ";", ".", "'", "\"", "$",
            "$$", "$1", "E'", "\\", "--", "/*", "*/", "\n", " ", "x", "1",
        ];
        var random = new Random(12345);
        var list = new List<StatementInfo>();
        var sb = new System.Text.StringBuilder();
        for (int n = 0; n < 5000; n++)
        {
            sb.Clear();
            int count = random.Next(1, 16);
            for (int k = 0; k < count; k++)
            {
                sb.Append(parts[random.Next(parts.Length)]).Append(random.Next(3) == 0 ? "" : " ");
            }

            string sql = sb.ToString();
            SqlAnalyzer.Analyze(sql, list);
            Assert.NotEmpty(list);
            int previousEnd = 0;
            foreach (StatementInfo s in list)
            {
                Assert.InRange(s.Start, previousEnd, sql.Length);
                Assert.InRange(s.Length, 0, sql.Length - s.Start);
                previousEnd = s.Start + s.Length;
            }

            Assert.InRange(SqlAnalyzer.MaxParameterIndex(sql), 0, int.MaxValue);
            Assert.Equal(sql.Length, SqlAnalyzer.RemoveAsyncIndexKeyword(sql, list).Length);
        }
    }
}
