using System.Text.RegularExpressions;

namespace Dsql.Sync.Schema;

/// <summary>A schema or table name pattern: an exact name, or <c>*</c> (any run of characters) and <c>?</c> (one character).</summary>
internal sealed class NamePattern
{
    private readonly Regex _regex;

    public NamePattern(string pattern)
    {
        Text = pattern;
        string body = string.Concat(pattern.Select(ch => ch switch
        {
            '*' => ".*",
            '?' => ".",
            _ => Regex.Escape(ch.ToString()),
        }));
        _regex = new Regex("^" + body + "$", RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromSeconds(1));
    }

    public string Text { get; }

    public bool Matches(string name) => _regex.IsMatch(name);
}

/// <summary>The table selection of <see cref="SchemaMappingOptions"/>: schema patterns and <c>[schema.]table</c> patterns.</summary>
internal sealed class TableSelection
{
    private readonly List<NamePattern> _schemas;
    private readonly List<(NamePattern? Schema, NamePattern Table)> _tables;

    public TableSelection(IEnumerable<string> schemas, IEnumerable<string> tables)
    {
        _schemas = schemas.Select(s => new NamePattern(s)).ToList();
        _tables = new List<(NamePattern?, NamePattern)>();
        foreach (string table in tables)
        {
            int dot = table.IndexOf('.', StringComparison.Ordinal);
            _tables.Add(dot < 0 ? (null, new NamePattern(table)) : (new NamePattern(table[..dot]), new NamePattern(table[(dot + 1)..])));
        }
    }

    public bool Includes(string schema, string table)
    {
        bool schemaSelected = _schemas.Any(p => p.Matches(schema));
        if (_tables.Count == 0)
        {
            return schemaSelected;
        }

        return _tables.Any(t => t.Schema is null ? schemaSelected && t.Table.Matches(table) : t.Schema.Matches(schema) && t.Table.Matches(table));
    }
}
