using Dsql.Emulator.Rules;
using Dsql.Emulator.Sql;
using Xunit;

namespace Dsql.Emulator.Tests.Sql;

/// <summary>How the job rules read statements, and what a job submission looks like (no sockets, no backend).</summary>
public class AsyncDdlTests
{
    private static (string Sql, StatementInfo Statement) Single(string sql)
    {
        var list = new List<StatementInfo>();
        SqlAnalyzer.Analyze(sql, list);
        return (sql, Assert.Single(list, s => s.Kind != StatementKind.Empty));
    }

    private static AsyncDdl Parse(string sql)
    {
        var (text, statement) = Single(sql);
        return AsyncDdl.Parse(text, statement);
    }

    [Theory]
    [InlineData("CREATE INDEX ASYNC i ON t (a)", "CreateIndexAsync", "t", "i")]
    [InlineData("create unique index async if not exists \"Big I\" on only s.\"T\" (a, b) include (c) nulls not distinct", "CreateIndexAsync", "s.\"T\"", "Big I")]
    [InlineData("CREATE INDEX ASYNC ON public.t USING btree (a) WHERE a > 0", "CreateIndexAsync", "public.t", null)]
    [InlineData("CREATE INDEX CONCURRENTLY i ON t (a)", "CreateIndexConcurrently", "t", "i")]
    [InlineData("ALTER TABLE ASYNC t VALIDATE CONSTRAINT c", "AlterTableAsyncValidate", "t", "c")]
    [InlineData("alter table async if exists only s.t validate constraint \"C1\"", "AlterTableAsyncValidate", "s.t", "C1")]
    [InlineData("ALTER TABLE t VALIDATE CONSTRAINT c", "ValidateConstraint", "t", "c")]
    [InlineData("ALTER TABLE async VALIDATE CONSTRAINT c", "ValidateConstraint", "async", "c")]
    [InlineData("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i", "AddConstraintUsingIndex", "t", "i")]
    [InlineData("ALTER TABLE t ADD PRIMARY KEY USING INDEX \"I\"", "AddConstraintUsingIndex", "t", "I")]
    [InlineData("DROP INDEX i", "DropIndex", null, "i")]
    [InlineData("DROP INDEX CONCURRENTLY IF EXISTS s.i, j CASCADE", "DropIndex", null, "i")]
    [InlineData("DROP TABLE IF EXISTS t", "DropTable", null, "t")]
    [InlineData("CALL sys.wait_for_job('x')", "CallWaitForJob", null, null)]
    [InlineData("call \"sys\".wait_for_job($1)", "CallWaitForJob", null, null)]
    [InlineData("CREATE INDEX i ON t (a)", "None", null, null)]
    [InlineData("CREATE TABLE async (id int)", "None", null, null)]
    [InlineData("ALTER TABLE t ADD COLUMN b int", "None", null, null)]
    [InlineData("SELECT 'CREATE INDEX ASYNC i ON t (a)'", "None", null, null)]
    [InlineData("CALL other.wait_for_job('x')", "None", null, null)]
    public void Reads_the_forms_that_take_part_in_jobs(string sql, string kind, string? table, string? firstName)
    {
        var ddl = Parse(sql);
        Assert.Equal(Enum.Parse<AsyncDdlKind>(kind), ddl.Kind);
        Assert.Equal(table, ddl.TableText);
        Assert.Equal(firstName, ddl.Names.Length > 0 ? ddl.Names[0].Name : null);
    }

    [Fact]
    public void Drop_index_reads_every_name_with_its_schema()
    {
        var ddl = Parse("DROP INDEX s.i, \"J\"");
        Assert.Equal([new ObjectName("s", "i"), new ObjectName(null, "J")], ddl.Names);
    }

    [Theory]
    [InlineData("CREATE UNIQUE INDEX ASYNC i ON t (a)",
        "SELECT pg_catalog.dsql_emulator_submit_job('INDEX_BUILD', 'CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)', 't'::regclass, 'i', current_setting('search_path'), '') AS job_id")]
    [InlineData("CREATE INDEX ASYNC ON \"O'Brien\" (a)",
        "SELECT pg_catalog.dsql_emulator_submit_job('INDEX_BUILD', 'CREATE INDEX CONCURRENTLY ON \"O''Brien\" (a)', '\"O''Brien\"'::regclass, '', current_setting('search_path'), '') AS job_id")]
    [InlineData("ALTER TABLE ASYNC s.t VALIDATE CONSTRAINT c",
        "SELECT pg_catalog.dsql_emulator_submit_job('VALIDATE_CONSTRAINT', 'ALTER TABLE  s.t VALIDATE CONSTRAINT c', 's.t'::regclass, 'c', current_setting('search_path'), '') AS job_id")]
    public void A_job_statement_becomes_a_submission_returning_job_id(string sql, string expected)
    {
        var (text, statement) = Single(sql);
        Assert.Equal(expected, new AsyncJobRules(null).Rewrite(text, statement));
    }

    [Theory]
    [InlineData("SELECT 1")]
    [InlineData("CREATE TABLE t (id int)")]
    [InlineData("DROP INDEX i")]
    public void Other_statements_are_not_rewritten(string sql)
    {
        var (text, statement) = Single(sql);
        Assert.Null(new AsyncJobRules(null).Rewrite(text, statement));
    }

    [Fact]
    public void Wait_for_job_is_refused_inside_a_transaction_block_only()
    {
        var rules = new AsyncJobRules(null);
        var list = new List<StatementInfo>();
        const string sql = "CALL sys.wait_for_job('aaaaaaaaaaaaaaaaaaaaaaaaaa')";
        SqlAnalyzer.Analyze(sql, list);
        var statement = list.First(s => s.Kind != StatementKind.Empty);
        Assert.Null(rules.Check(sql, statement, list, inTransactionBlock: false));
        var refused = rules.Check(sql, statement, list, inTransactionBlock: true);
        Assert.Equal("0A000", refused?.SqlState);
    }
}
