using Dsql.Sync.Bulk;
using Dsql.Sync.Schema;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// The <c>sink:</c> keys of dsql-sync's own that shape a load (not in the Flink CDC sink): the type-mapping rules
/// (<c>type-mapping.&lt;family&gt;</c>, <c>serial-mapping</c>, <c>identity-cache</c>) and the writer's settings
/// (<c>write-mode</c>, <c>wire-format</c>, <c>chunk.max-rows</c>, <c>chunk.max-bytes</c>, <c>statement.max-rows</c>).
/// Read and checked with the rest of the file; a key left out keeps the default of <see cref="SchemaMappingOptions"/>
/// or <see cref="DsqlBulkWriterOptions"/>. Immutable.
/// </summary>
public sealed class DsqlSinkLoadOptions
{
    internal DsqlSinkLoadOptions(IReadOnlyDictionary<TypeFamily, TypeRule> typeRules, int? unconstrainedNumericPrecision,
        int? unconstrainedNumericScale, SerialMapping? serialMapping, long? identityCache, BulkWriteMode writeMode,
        SinkWireFormat wireFormat, int? maxRowsPerChunk, long? maxBytesPerChunk, int? maxRowsPerStatement)
    {
        TypeRules = typeRules;
        UnconstrainedNumericPrecision = unconstrainedNumericPrecision;
        UnconstrainedNumericScale = unconstrainedNumericScale;
        SerialMapping = serialMapping;
        IdentityCache = identityCache;
        WriteMode = writeMode;
        WireFormat = wireFormat;
        MaxRowsPerChunk = maxRowsPerChunk;
        MaxBytesPerChunk = maxBytesPerChunk;
        MaxRowsPerStatement = maxRowsPerStatement;
    }

    /// <summary>The options of a file that sets none of these keys: every default.</summary>
    internal static DsqlSinkLoadOptions Defaults { get; } = new(new Dictionary<TypeFamily, TypeRule>(), null, null, null, null,
        BulkWriteMode.Insert, SinkWireFormat.Auto, null, null, null);

    /// <summary>
    /// <c>sink.type-mapping.&lt;family&gt;</c>: the rules the file sets, by family; a family not listed keeps
    /// <see cref="SchemaMappingOptions.DefaultTypeRules"/>.
    /// </summary>
    public IReadOnlyDictionary<TypeFamily, TypeRule> TypeRules { get; }

    /// <summary>The precision of <c>sink.type-mapping.unconstrained-numeric: numeric(p,s)</c>, or null for the mapping's default (38).</summary>
    public int? UnconstrainedNumericPrecision { get; }

    /// <summary>The scale of <c>sink.type-mapping.unconstrained-numeric: numeric(p,s)</c>, or null for the mapping's default (10).</summary>
    public int? UnconstrainedNumericScale { get; }

    /// <summary><c>sink.serial-mapping</c>: what serial and identity columns become, or null for the default (<see cref="Schema.SerialMapping.Identity"/>).</summary>
    public SerialMapping? SerialMapping { get; }

    /// <summary><c>sink.identity-cache</c>: the CACHE of identity columns (1 or at least 65,536), or null for the default (65,536).</summary>
    public long? IdentityCache { get; }

    /// <summary><c>sink.write-mode</c>: what happens to a row whose key exists. Default <see cref="BulkWriteMode.Insert"/>.</summary>
    public BulkWriteMode WriteMode { get; }

    /// <summary><c>sink.wire-format</c> as written. Default <see cref="SinkWireFormat.Auto"/>; <see cref="ResolvedWireFormat"/> is what the writer uses.</summary>
    public SinkWireFormat WireFormat { get; }

    /// <summary>
    /// The wire form the writer uses: with <see cref="SinkWireFormat.Auto"/>, <see cref="BulkWireFormat.BinaryCopy"/>
    /// when <see cref="WriteMode"/> is <see cref="BulkWriteMode.Insert"/> (a full load into a new table, values read
    /// with the source's own types), <see cref="BulkWireFormat.MultiRowInsert"/> otherwise (COPY has no ON CONFLICT).
    /// </summary>
    public BulkWireFormat ResolvedWireFormat => WireFormat switch
    {
        SinkWireFormat.Copy => BulkWireFormat.BinaryCopy,
        SinkWireFormat.Insert => BulkWireFormat.MultiRowInsert,
        _ => WriteMode == BulkWriteMode.Insert ? BulkWireFormat.BinaryCopy : BulkWireFormat.MultiRowInsert,
    };

    /// <summary><c>sink.chunk.max-rows</c>: the most rows per chunk (one transaction), 1 to 2,999, or null for the writer's default.</summary>
    public int? MaxRowsPerChunk { get; }

    /// <summary><c>sink.chunk.max-bytes</c>: the most estimated bytes per chunk, 16,384 to 10 MiB, or null for the writer's default (9 MiB).</summary>
    public long? MaxBytesPerChunk { get; }

    /// <summary><c>sink.statement.max-rows</c>: the most rows per INSERT statement, 1 to 3,000, or null for the writer's default (200).</summary>
    public int? MaxRowsPerStatement { get; }

    /// <summary>
    /// The pipeline file's key for <paramref name="family"/>'s rule and the values that map the type, for messages:
    /// for example <c>sink.type-mapping.unconstrained-numeric: numeric, numeric(p,s) or text</c>.
    /// </summary>
    /// <param name="family">A type family.</param>
    /// <returns>The key path, a colon, and the accepted values other than <c>refuse</c>.</returns>
    public static string TypeMappingHint(TypeFamily family)
    {
        var (_, key) = SinkLoadReader.FamilyKeys.First(f => f.Family == family);
        var values = SchemaMappingOptions.AllowedRules(family).Where(r => r != TypeRule.Refuse).Select(SinkLoadReader.RuleName).ToList();
        if (family == TypeFamily.UnconstrainedNumeric)
        {
            values.Insert(values.IndexOf("numeric") + 1, "numeric(p,s)");
        }

        return $"sink.type-mapping.{key}: " + (values.Count == 1 ? values[0] : string.Join(", ", values[..^1]) + " or " + values[^1]);
    }

    /// <summary>
    /// New mapping options carrying the file's type rules, serial mapping and identity cache (defaults elsewhere).
    /// The caller sets the tables to map (<see cref="SchemaMappingOptions.Schemas"/>, <see cref="SchemaMappingOptions.Tables"/>).
    /// </summary>
    /// <returns>A new options object; changing it changes nothing here.</returns>
    public SchemaMappingOptions ToSchemaMappingOptions()
    {
        var options = new SchemaMappingOptions();
        foreach (var (family, rule) in TypeRules)
        {
            options.TypeRules[family] = rule;
        }

        if (UnconstrainedNumericPrecision is { } precision && UnconstrainedNumericScale is { } scale)
        {
            options.UnconstrainedNumericPrecision = precision;
            options.UnconstrainedNumericScale = scale;
        }

        if (SerialMapping is { } serial)
        {
            options.Serial = serial;
        }

        if (IdentityCache is { } cache)
        {
            options.IdentityCache = cache;
        }

        return options;
    }

    /// <summary>
    /// Sets the writer's <see cref="DsqlBulkWriterOptions.Mode"/> and <see cref="DsqlBulkWriterOptions.WireFormat"/>,
    /// and the chunk and statement sizes the file sets (the others keep their values).
    /// </summary>
    /// <param name="options">The writer options of one table.</param>
    public void ApplyTo(DsqlBulkWriterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Mode = WriteMode;
        options.WireFormat = ResolvedWireFormat;
        if (MaxRowsPerChunk is { } rows)
        {
            options.MaxRowsPerChunk = rows;
        }

        if (MaxBytesPerChunk is { } bytes)
        {
            options.MaxBytesPerChunk = bytes;
        }

        if (MaxRowsPerStatement is { } statementRows)
        {
            options.MaxRowsPerStatement = statementRows;
        }
    }
}

/// <summary>The values of <c>sink.wire-format</c>: how the writer sends rows.</summary>
public enum SinkWireFormat
{
    /// <summary><c>auto</c> (the default): binary COPY with <c>write-mode: insert</c>, multi-row INSERT otherwise.</summary>
    Auto,

    /// <summary><c>copy</c>: binary COPY (<see cref="BulkWireFormat.BinaryCopy"/>); only with <c>write-mode: insert</c>.</summary>
    Copy,

    /// <summary><c>insert</c>: multi-row INSERT statements (<see cref="BulkWireFormat.MultiRowInsert"/>), every write mode.</summary>
    Insert,
}
