using System.Text.RegularExpressions;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// Which source tables a pipeline loads: the <c>schema-name</c> and <c>table-name</c> patterns of the
/// <c>source:</c> section. A table is selected when its schema matches one schema pattern and its name matches one
/// table pattern. Each pattern is a regular expression that must match the whole name, case-sensitively, as the
/// names are stored in the PostgreSQL catalog (<c>pg_namespace.nspname</c>, <c>pg_class.relname</c>); a plain name
/// such as <c>orders</c> matches that table only.
/// </summary>
public sealed class TableSelection
{
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);
    private readonly Regex[] _schemas;
    private readonly Regex[] _tables;

    internal TableSelection(IReadOnlyList<string> schemaPatterns, IReadOnlyList<string> tablePatterns)
    {
        SchemaPatterns = Array.AsReadOnly(schemaPatterns.ToArray());
        TablePatterns = Array.AsReadOnly(tablePatterns.ToArray());
        _schemas = schemaPatterns.Select(Compile).ToArray();
        _tables = tablePatterns.Select(Compile).ToArray();
    }

    /// <summary>The schema patterns, as written in <c>source.schema-name</c>.</summary>
    public IReadOnlyList<string> SchemaPatterns { get; }

    /// <summary>The table patterns, as written in <c>source.table-name</c>.</summary>
    public IReadOnlyList<string> TablePatterns { get; }

    /// <summary>Whether the table <paramref name="schema"/>.<paramref name="table"/> is selected.</summary>
    /// <param name="schema">The schema name as stored in the catalog (<c>pg_namespace.nspname</c>).</param>
    /// <param name="table">The table name as stored in the catalog (<c>pg_class.relname</c>).</param>
    /// <returns>True when one schema pattern matches the whole schema name and one table pattern the whole table name.</returns>
    public bool Includes(string schema, string table)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(table);
        return _schemas.Any(s => s.IsMatch(schema)) && _tables.Any(t => t.IsMatch(table));
    }

    /// <summary>Why <paramref name="pattern"/> is not a usable regular expression, or null when it is.</summary>
    internal static string? ProblemOf(string pattern)
    {
        try
        {
            _ = Compile(pattern);
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
    }

    private static Regex Compile(string pattern) =>
        new($@"\A(?:{pattern})\z", RegexOptions.CultureInvariant, MatchTimeout);
}
