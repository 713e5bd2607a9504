namespace Dsql.Sync.Schema;

/// <summary>
/// Which tables of a PostgreSQL source to map, and the rule for each type family DSQL lacks.
/// Plain data: <see cref="SchemaMapper"/> validates it once when it maps.
/// </summary>
public sealed class SchemaMappingOptions
{
    /// <summary>The rules used when <see cref="TypeRules"/> names no rule for a family (each documented in docs/loading.md).</summary>
    public static IReadOnlyDictionary<TypeFamily, TypeRule> DefaultTypeRules { get; } = new Dictionary<TypeFamily, TypeRule>
    {
        [TypeFamily.Json] = TypeRule.Jsonb,
        [TypeFamily.Array] = TypeRule.Jsonb,
        [TypeFamily.Enum] = TypeRule.Text,
        [TypeFamily.Composite] = TypeRule.Jsonb,
        [TypeFamily.Network] = TypeRule.Text,
        [TypeFamily.Geometric] = TypeRule.Text,
        [TypeFamily.Range] = TypeRule.Text,
        [TypeFamily.Money] = TypeRule.Numeric,
        [TypeFamily.Xml] = TypeRule.Text,
        [TypeFamily.BitString] = TypeRule.Text,
        [TypeFamily.TextSearch] = TypeRule.Text,
        [TypeFamily.UnconstrainedNumeric] = TypeRule.Refuse,
        [TypeFamily.Other] = TypeRule.Refuse,
    };

    /// <summary>The smallest identity CACHE above 1 that DSQL accepts.</summary>
    public const long MinimumIdentityCache = 65536;

    /// <summary>
    /// Schema name patterns (exact names, or <c>*</c> and <c>?</c> wildcards). Default: <c>public</c> only.
    /// </summary>
    public IList<string> Schemas { get; } = new List<string> { "public" };

    /// <summary>
    /// Table name patterns, each <c>table</c> or <c>schema.table</c> (wildcards <c>*</c> and <c>?</c> in either part).
    /// Empty (the default): every table of the selected schemas.
    /// </summary>
    public IList<string> Tables { get; } = new List<string>();

    /// <summary>The rule per family; a family not named here takes its rule from <see cref="DefaultTypeRules"/>.</summary>
    public IDictionary<TypeFamily, TypeRule> TypeRules { get; } = new Dictionary<TypeFamily, TypeRule>();

    /// <summary>What serial and identity columns become. Default <see cref="SerialMapping.Identity"/>.</summary>
    public SerialMapping Serial { get; set; } = SerialMapping.Identity;

    /// <summary>
    /// The CACHE of identity columns: DSQL accepts 1 or at least 65,536. Default 65,536 (each connection reserves a
    /// block of values, so keys have gaps; 1 gives dense keys at the cost of a sequence round trip per row).
    /// </summary>
    public long IdentityCache { get; set; } = MinimumIdentityCache;

    /// <summary>Precision of <c>numeric</c> columns declared without one, under <see cref="TypeRule.Numeric"/>. Default 38.</summary>
    public int UnconstrainedNumericPrecision { get; set; } = 38;

    /// <summary>Scale of <c>numeric</c> columns declared without one, under <see cref="TypeRule.Numeric"/>. Default 10.</summary>
    public int UnconstrainedNumericScale { get; set; } = 10;

    /// <summary>The rule in force for <paramref name="family"/>.</summary>
    public TypeRule RuleFor(TypeFamily family) =>
        TypeRules.TryGetValue(family, out var rule) ? rule : DefaultTypeRules[family];

    /// <summary>The rules a family accepts (the first one after <see cref="TypeRule.Refuse"/> is the usual choice).</summary>
    public static IReadOnlyList<TypeRule> AllowedRules(TypeFamily family) => family switch
    {
        TypeFamily.Json => [TypeRule.Jsonb, TypeRule.Text, TypeRule.Refuse],
        TypeFamily.Array or TypeFamily.Composite => [TypeRule.Jsonb, TypeRule.Text, TypeRule.Refuse],
        TypeFamily.Money or TypeFamily.UnconstrainedNumeric => [TypeRule.Numeric, TypeRule.Text, TypeRule.Refuse],
        _ => [TypeRule.Text, TypeRule.Refuse],
    };

    internal void Validate()
    {
        if (IdentityCache != 1 && IdentityCache < MinimumIdentityCache)
        {
            throw new ArgumentException($"IdentityCache is {IdentityCache}: DSQL accepts an identity CACHE of 1 or at least {MinimumIdentityCache}.", nameof(IdentityCache));
        }

        if (UnconstrainedNumericPrecision is < 1 or > 1000 || UnconstrainedNumericScale < 0 || UnconstrainedNumericScale > UnconstrainedNumericPrecision)
        {
            throw new ArgumentException($"UnconstrainedNumericPrecision/Scale are ({UnconstrainedNumericPrecision},{UnconstrainedNumericScale}): the precision must be 1 to 1000 (DSQL's limit) and the scale 0 to the precision.", nameof(UnconstrainedNumericPrecision));
        }

        foreach (var (family, rule) in TypeRules)
        {
            if (!AllowedRules(family).Contains(rule))
            {
                throw new ArgumentException($"TypeRules[{family}] is {rule}: {family} accepts {string.Join(", ", AllowedRules(family))}.", nameof(TypeRules));
            }
        }

        if (Schemas.Count == 0 && Tables.Count == 0)
        {
            throw new ArgumentException("Schemas and Tables are both empty: name at least one schema or table pattern.", nameof(Schemas));
        }
    }
}
