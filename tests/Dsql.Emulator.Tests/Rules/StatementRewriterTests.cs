using Dsql.Emulator.Rules;
using Xunit;

namespace Dsql.Emulator.Tests.Rules;

/// <summary>The statement and transaction rules as pure logic: text in, text out, no sockets.</summary>
public class StatementRewriterTests
{
    private static StatementRewriter NewRewriter() => new(new TransactionRules());

    [Fact]
    public void Accepted_statement_goes_through_unchanged()
    {
        var result = NewRewriter().Rewrite("SELECT 1", extendedProtocol: false);
        Assert.Null(result.Text);
        Assert.Null(result.Refused);
        Assert.False(result.Commits);
    }

    [Fact]
    public void Refused_statement_becomes_a_raise_and_drops_what_follows()
    {
        var result = NewRewriter().Rewrite("SELECT 1; TRUNCATE t; SELECT 2", extendedProtocol: false);
        Assert.Equal("0A000", result.Refused!.Value.SqlState);
        Assert.StartsWith("SELECT 1; SELECT " + StatementRewriter.RaiseFunction + "('0A000', 'unsupported statement: Truncate')", result.Text);
        Assert.DoesNotContain("SELECT 2", result.Text);
    }

    [Fact]
    public void Refusal_in_a_parse_keeps_the_parameters_for_the_bind()
    {
        var result = NewRewriter().Rewrite("TRUNCATE t WHERE $1 = $2", extendedProtocol: true);
        Assert.NotNull(result.Refused);
        Assert.EndsWith("FROM (SELECT $1::text, $2::text) AS dsql_emulator_parameters", result.Text);
    }

    [Fact]
    public void Quote_in_a_message_is_escaped()
    {
        string text = StatementRewriter.RaiseStatement(new("0A000", "it's refused"));
        Assert.Contains("'it''s refused'", text);
    }

    [Fact]
    public void Async_keyword_of_create_index_is_removed()
    {
        var result = NewRewriter().Rewrite("CREATE INDEX ASYNC i ON t (a)", extendedProtocol: false);
        Assert.Equal("CREATE INDEX  i ON t (a)", result.Text);
    }

    [Fact]
    public void Second_ddl_in_a_transaction_is_refused()
    {
        var rewriter = NewRewriter();
        Assert.Null(rewriter.Rewrite("BEGIN", false).Refused);
        Assert.Null(rewriter.Rewrite("CREATE TABLE a (id int PRIMARY KEY)", false).Refused);
        var second = rewriter.Rewrite("CREATE TABLE b (id int PRIMARY KEY)", false);
        Assert.Equal(DsqlMessages.MultipleDdl, second.Refused!.Value.Message);
    }

    [Theory]
    [InlineData("CREATE TABLE a (id int PRIMARY KEY)", "INSERT INTO a VALUES (1)")]
    [InlineData("INSERT INTO a VALUES (1)", "CREATE TABLE b (id int PRIMARY KEY)")]
    public void Ddl_and_dml_in_one_transaction_are_refused(string first, string second)
    {
        var rewriter = NewRewriter();
        rewriter.Rewrite("BEGIN", false);
        Assert.Null(rewriter.Rewrite(first, false).Refused);
        var result = rewriter.Rewrite(second, false);
        Assert.Equal(DsqlMessages.DdlAndDml, result.Refused!.Value.Message);
    }

    [Fact]
    public void Ddl_and_dml_in_one_implicit_transaction_are_refused_but_not_in_separate_groups()
    {
        var rewriter = NewRewriter();
        Assert.NotNull(rewriter.Rewrite("CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1)", false).Refused);
        rewriter.TransactionRules.EndRequestGroup();
        Assert.Null(rewriter.Rewrite("CREATE TABLE b (id int PRIMARY KEY)", false).Refused);
        rewriter.TransactionRules.EndRequestGroup();
        Assert.Null(rewriter.Rewrite("INSERT INTO b VALUES (1)", false).Refused);
    }

    [Fact]
    public void Commit_ends_the_transaction_for_the_rules()
    {
        var rewriter = NewRewriter();
        rewriter.Rewrite("BEGIN", false);
        rewriter.Rewrite("CREATE TABLE a (id int PRIMARY KEY)", false);
        var commit = rewriter.Rewrite("COMMIT", false);
        Assert.True(commit.Commits);
        Assert.False(rewriter.TransactionRules.InExplicitTransaction);
        rewriter.Rewrite("BEGIN", false);
        Assert.Null(rewriter.Rewrite("CREATE TABLE b (id int PRIMARY KEY)", false).Refused);
    }
}
