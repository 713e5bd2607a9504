namespace Dsql.EntityFrameworkCore.Metadata;

/// <summary>
/// DSQL's column types: an allow-list (AWS's supported data types page). A type not on it is refused wherever it
/// appears, with 0A000 <c>datatype ... not supported</c>; arrays of any type are query-runtime only.
/// </summary>
internal static class DsqlStoreTypes
{
    private static readonly HashSet<string> Supported = new(StringComparer.OrdinalIgnoreCase)
    {
        "smallint", "int2", "integer", "int", "int4", "bigint", "int8", "real", "float4", "double precision", "float8", "float",
        "numeric", "decimal", "dec", "character", "char", "bpchar", "nchar", "character varying", "varchar", "text",
        "date", "time", "time without time zone", "timetz", "time with time zone", "timestamp", "timestamp without time zone",
        "timestamptz", "timestamp with time zone", "interval", "boolean", "bool", "bytea", "uuid", "json", "jsonb",
    };

    /// <summary>
    /// Why DSQL refuses <paramref name="storeType"/> as a column type, with what to use instead; null when DSQL accepts
    /// it. The type's modifiers (<c>varchar(20)</c>, <c>numeric(10,2)</c>, <c>timestamp(3) with time zone</c>) are ignored.
    /// </summary>
    public static string? Refusal(string storeType)
    {
        string type = storeType.Trim();
        if (type.Length == 0)
        {
            return null;
        }

        if (type.EndsWith(']') || type.StartsWith('_'))
        {
            return $"column type {type}: DSQL has no array columns; store the values as jsonb (a JSON column, or HasConversion to a JSON string with HasColumnType(\"jsonb\")), or in a table of their own";
        }

        string name = BaseName(type);
        if (Supported.Contains(name))
        {
            return null;
        }

        if (name is "serial" or "bigserial" or "smallserial" or "serial2" or "serial4" or "serial8")
        {
            return $"column type {type}: DSQL has no serial types; use a bigint identity column (a long key) or a uuid (a Guid key)";
        }

        return $"column type {type}: DSQL's data types are an allow-list without it; use one of {string.Join(", ", Preferred)} (e.g. text for inet/xml, numeric for money)";
    }

    /// <summary>True when <paramref name="storeType"/> is bigint (identity columns must be).</summary>
    public static bool IsBigint(string storeType) => BaseName(storeType.Trim()) is "bigint" or "int8";

    private static readonly string[] Preferred = ["smallint", "integer", "bigint", "real", "double precision", "numeric", "boolean", "char", "varchar", "text", "bytea", "date", "time", "timestamp", "timestamptz", "interval", "uuid", "json", "jsonb"];

    private static string BaseName(string type)
    {
        // "timestamp(3) with time zone" -> "timestamp with time zone"; "varchar(20)" -> "varchar"; "pg_catalog.text" -> "text".
        string name = type.ToLowerInvariant();
        int open = name.IndexOf('(', StringComparison.Ordinal);
        if (open >= 0)
        {
            int close = name.IndexOf(')', open);
            name = close > open ? name[..open].TrimEnd() + (close + 1 < name.Length ? " " + name[(close + 1)..].Trim() : "") : name[..open];
        }

        if (name.StartsWith("pg_catalog.", StringComparison.Ordinal))
        {
            name = name["pg_catalog.".Length..];
        }

        return name.Trim().Trim('"');
    }
}
