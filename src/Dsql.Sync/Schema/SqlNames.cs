namespace Dsql.Sync.Schema;

/// <summary>Quoting of SQL identifiers and literals.</summary>
internal static class SqlNames
{
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Qualify(string schema, string name) => Quote(schema) + "." + Quote(name);

    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
}
