using System.Globalization;

namespace Dsql.Sync.Schema;

/// <summary>
/// The DSQL column type for a PostgreSQL type known only by its formatted name (<c>format_type</c>: what a change
/// stream's relation message carries), under the same <see cref="TypeRule"/>s as the bulk load's mapping.
/// </summary>
internal static class TypeNameMapping
{
    // Formatted names (without modifiers) of the built-in types DSQL stores as they are.
    private static readonly HashSet<string> Supported = new(StringComparer.Ordinal)
    {
        "smallint", "integer", "bigint", "real", "double precision", "numeric", "character", "character varying", "text",
        "date", "time without time zone", "time with time zone", "timestamp without time zone", "timestamp with time zone",
        "interval", "boolean", "bytea", "uuid", "jsonb",
    };

    private static readonly HashSet<string> Geometric = new(StringComparer.Ordinal) { "point", "line", "lseg", "box", "path", "polygon", "circle" };

    /// <summary>The DSQL type of a family's column under <paramref name="rule"/> (null for <see cref="TypeRule.Refuse"/>).</summary>
    public static string? TargetType(TypeFamily family, TypeRule rule, SchemaMappingOptions options) => rule switch
    {
        TypeRule.Text => "text",
        TypeRule.Jsonb => "jsonb",
        TypeRule.Numeric when family == TypeFamily.Money => "numeric(20,2)",
        TypeRule.Numeric => $"numeric({options.UnconstrainedNumericPrecision.ToString(CultureInfo.InvariantCulture)},{options.UnconstrainedNumericScale.ToString(CultureInfo.InvariantCulture)})",
        _ => null,
    };

    /// <summary>
    /// The DSQL type for <paramref name="formatted"/>, or null with the reason when the rules refuse it. A name that
    /// is neither built in nor recognised (an enum, a composite or a domain: the name alone does not tell) belongs to
    /// <see cref="TypeFamily.Other"/>.
    /// </summary>
    public static (string? Type, string Reason) Map(string formatted, SchemaMappingOptions options)
    {
        ArgumentNullException.ThrowIfNull(formatted);
        string name = formatted.Trim();
        if (name.EndsWith("[]", StringComparison.Ordinal)) return ByFamily(name, TypeFamily.Array, options);
        // time(3) with time zone, timestamp(6) without time zone, numeric(12,2), character varying(20)
        string bare = BareName(name);
        if (Supported.Contains(bare))
        {
            if (bare == "numeric" && name == "numeric") return ByFamily(name, TypeFamily.UnconstrainedNumeric, options);
            return (name, "supported by DSQL");
        }
        var family = bare switch
        {
            "json" => TypeFamily.Json,
            "money" => TypeFamily.Money,
            "xml" => TypeFamily.Xml,
            "inet" or "cidr" or "macaddr" or "macaddr8" => TypeFamily.Network,
            "bit" or "bit varying" => TypeFamily.BitString,
            "tsvector" or "tsquery" => TypeFamily.TextSearch,
            _ when Geometric.Contains(bare) => TypeFamily.Geometric,
            _ when bare.EndsWith("range", StringComparison.Ordinal) || bare.EndsWith("multirange", StringComparison.Ordinal) => TypeFamily.Range,
            _ => TypeFamily.Other,
        };
        return ByFamily(name, family, options);
    }

    private static (string? Type, string Reason) ByFamily(string name, TypeFamily family, SchemaMappingOptions options)
    {
        var rule = options.RuleFor(family);
        string? type = TargetType(family, rule, options);
        return type is null
            ? (null, $"type {name} (TypeFamily.{family}) is refused by its rule; set SchemaMappingOptions.TypeRules[TypeFamily.{family}]")
            : (type, $"TypeFamily.{family} rule {rule}");
    }

    /// <summary>The name without its modifier: <c>timestamp(6) with time zone</c> gives <c>timestamp with time zone</c>.</summary>
    private static string BareName(string name)
    {
        int open = name.IndexOf('(', StringComparison.Ordinal);
        if (open < 0) return name;
        int close = name.IndexOf(')', open);
        if (close < 0) return name;
        return (name[..open] + name[(close + 1)..]).Trim();
    }
}
