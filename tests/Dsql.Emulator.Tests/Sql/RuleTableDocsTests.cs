using System.Text;
using Dsql.Emulator.Sql;
using Xunit;

namespace Dsql.Emulator.Tests.Sql;

/// <summary>
/// docs/emulator.md shows the rule table as it is in the code: the section between the markers is the table rendered
/// row by row. When a row changes, this test fails and prints the section to paste (or run the tests with
/// DSQL_UPDATE_DOCS=1 to write it).
/// </summary>
public class RuleTableDocsTests
{
    private const string Start = "<!-- rule-table:start -->";
    private const string End = "<!-- rule-table:end -->";

    [Fact]
    public void Docs_show_every_row_of_the_rule_table()
    {
        string path = Path.Combine(RepositoryRoot(), "docs", "emulator.md");
        string docs = File.ReadAllText(path);
        int start = docs.IndexOf(Start, StringComparison.Ordinal);
        int end = docs.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"docs/emulator.md must hold the markers {Start} and {End}");

        string expected = Render();
        string actual = docs[(start + Start.Length)..end];
        if (actual != expected && Environment.GetEnvironmentVariable("DSQL_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, docs[..(start + Start.Length)] + expected + docs[end..]);
            return;
        }

        Assert.True(actual == expected, "docs/emulator.md's rule table is stale; replace the section between the markers with:\n" + expected);
    }

    private static string Render()
    {
        var md = new StringBuilder("\n");
        md.Append("| rule | looks at | matches | SQLSTATE | DSQL's message | source |\n");
        md.Append("|---|---|---|---|---|---|\n");
        foreach (var rule in DsqlRuleTable.Rules)
        {
            md.Append("| `").Append(rule.Id).Append("` | ").Append(Scope(rule.Scope)).Append(" | ")
                .Append(Cell(rule.Scope is RuleScope.Check ? rule.Match : "`" + rule.Match + "`")).Append(" | ")
                .Append(rule.SqlState).Append(" | ").Append(Cell(rule.Message)).Append(" | ")
                .Append(Cell(rule.Source)).Append(" |\n");
        }

        return md.ToString();
    }

    private static string Scope(RuleScope scope) => scope switch
    {
        RuleScope.Statement => "statement",
        RuleScope.Clause => "clause anywhere",
        RuleScope.Function => "function call",
        RuleScope.ColumnType => "column type",
        RuleScope.CastType => "cast / literal",
        RuleScope.Answer => "answer (DSQL's value)",
        _ => "check",
    };

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Dsql.Connector.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (Dsql.Connector.sln) was not found above " + AppContext.BaseDirectory);
    }
}
