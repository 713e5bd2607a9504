namespace Dsql.Sync.Bulk;

/// <summary>Quoting of identifiers for the SQL the bulk writer builds.</summary>
internal static class SqlNames
{
    public static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary><c>table</c> or <c>schema.table</c>, each part quoted.</summary>
    public static string QualifiedName(string name, string option)
    {
        string[] parts = name.Split('.');
        if (parts.Length > 2 || parts.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException($"'{name}' is not 'table' or 'schema.table'.", option);
        return string.Join('.', parts.Select(Quote));
    }
}
