using System.Globalization;
using System.Text.RegularExpressions;
using Dsql.Sync.Bulk;
using Dsql.Sync.Schema;

namespace Dsql.Sync.Pipeline;

/// <summary>Reads and checks the <c>sink:</c> keys of <see cref="DsqlSinkLoadOptions"/>, each refusal naming the key and the values accepted.</summary>
internal static partial class SinkLoadReader
{
    /// <summary>The most rows per chunk with the tool's checkpoint: DSQL's 3,000 rows per transaction, less the checkpoint's own row.</summary>
    public const int MaxRowsPerChunkWithCheckpoint = DsqlBulkWriterOptions.DsqlMaxRowsPerTransaction - 1;

    /// <summary>The smallest <c>chunk.max-bytes</c> the writer accepts.</summary>
    public const long MinBytesPerChunk = 16 * 1024;

    /// <summary>Each family's key under <c>type-mapping.</c>: its name in kebab case.</summary>
    public static readonly IReadOnlyList<(TypeFamily Family, string Key)> FamilyKeys =
    [
        (TypeFamily.Json, "json"),
        (TypeFamily.Array, "array"),
        (TypeFamily.Enum, "enum"),
        (TypeFamily.Composite, "composite"),
        (TypeFamily.Network, "network"),
        (TypeFamily.Geometric, "geometric"),
        (TypeFamily.Range, "range"),
        (TypeFamily.Money, "money"),
        (TypeFamily.Xml, "xml"),
        (TypeFamily.BitString, "bit-string"),
        (TypeFamily.TextSearch, "text-search"),
        (TypeFamily.UnconstrainedNumeric, "unconstrained-numeric"),
        (TypeFamily.Other, "other"),
    ];

    public static string RuleName(TypeRule rule) => rule switch
    {
        TypeRule.Jsonb => "jsonb",
        TypeRule.Text => "text",
        TypeRule.Numeric => "numeric",
        _ => "refuse",
    };

    public static DsqlSinkLoadOptions Read(PipelineSection section)
    {
        var rules = new Dictionary<TypeFamily, TypeRule>();
        int? precision = null, scale = null;
        foreach (var (family, name) in FamilyKeys)
        {
            string key = "type-mapping." + name;
            var text = section.Text(key);
            if (text is null)
            {
                continue;
            }

            var allowed = SchemaMappingOptions.AllowedRules(family);
            var names = allowed.Select(RuleName).ToList();
            if (family == TypeFamily.UnconstrainedNumeric)
            {
                names.Insert(names.IndexOf("numeric") + 1, "numeric(p,s)");
                if (NumericWithPrecision().Match(text) is { Success: true } match)
                {
                    bool parsed = int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int p);
                    parsed &= int.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int s);
                    if (parsed && p is >= 1 and <= 1000 && s <= p)
                    {
                        rules[family] = TypeRule.Numeric;
                        (precision, scale) = (p, s);
                    }
                    else
                    {
                        section.Refuse(key, text, "numeric(p,s) with a precision p from 1 to 1000 (DSQL's limit) and a scale s from 0 to p");
                    }

                    continue;
                }
            }

            var rule = allowed.Cast<TypeRule?>().FirstOrDefault(r => string.Equals(RuleName(r!.Value), text, StringComparison.OrdinalIgnoreCase));
            if (rule is null)
            {
                section.Refuse(key, text, $"one of {string.Join(", ", names)} (the rules the {name} family accepts; default {RuleName(SchemaMappingOptions.DefaultTypeRules[family])})");
            }
            else
            {
                rules[family] = rule.Value;
            }
        }

        var serial = Choice(section, "serial-mapping", [("identity", Schema.SerialMapping.Identity), ("uuid", Schema.SerialMapping.Uuid)]);
        long? cache = null;
        const string CacheExpectation = "1 or a number of at least 65536 (DSQL accepts an identity CACHE of 1 or >= 65536)";
        long cacheValue = section.Number("identity-cache", -1, 1, long.MaxValue, CacheExpectation, out bool cacheValid);
        if (cacheValid && cacheValue != -1)
        {
            if (cacheValue != 1 && cacheValue < SchemaMappingOptions.MinimumIdentityCache)
            {
                section.Refuse("identity-cache", cacheValue.ToString(CultureInfo.InvariantCulture), CacheExpectation);
            }
            else if (serial == Schema.SerialMapping.Uuid)
            {
                section.Problem(section.PathOf("identity-cache"),
                    "is not used with sink.serial-mapping: uuid (no identity column is created); remove it, or set sink.serial-mapping: identity.");
            }
            else
            {
                cache = cacheValue;
            }
        }

        var mode = Choice(section, "write-mode",
            [("insert", BulkWriteMode.Insert), ("insert-ignore", BulkWriteMode.InsertIgnore), ("upsert", BulkWriteMode.Upsert)]) ?? BulkWriteMode.Insert;
        var wire = Choice(section, "wire-format", [("auto", SinkWireFormat.Auto), ("copy", SinkWireFormat.Copy), ("insert", SinkWireFormat.Insert)])
            ?? SinkWireFormat.Auto;
        if (wire == SinkWireFormat.Copy && mode != BulkWriteMode.Insert)
        {
            section.Problem(section.PathOf("wire-format"),
                $"'copy' is not accepted with sink.write-mode: {section.Text("write-mode")}: binary COPY has no ON CONFLICT, so it only inserts. " +
                "Set sink.wire-format to auto or insert, or sink.write-mode to insert.");
            wire = SinkWireFormat.Auto;
        }

        int? chunkRows = Optional(section, "chunk.max-rows", 1, MaxRowsPerChunkWithCheckpoint,
            $"a number of rows from 1 to {MaxRowsPerChunkWithCheckpoint} (DSQL's 3,000 rows per transaction, less the checkpoint's row)");
        long? chunkBytes = Optional(section, "chunk.max-bytes", MinBytesPerChunk, DsqlBulkWriterOptions.DsqlMaxBytesPerTransaction,
            $"a number of bytes from {MinBytesPerChunk} to {DsqlBulkWriterOptions.DsqlMaxBytesPerTransaction} (DSQL's 10 MiB per transaction)");
        int? statementRows = Optional(section, "statement.max-rows", 1, DsqlBulkWriterOptions.DsqlMaxRowsPerTransaction,
            $"a number of rows from 1 to {DsqlBulkWriterOptions.DsqlMaxRowsPerTransaction}");
        if (statementRows is not null && mode == BulkWriteMode.Insert && wire != SinkWireFormat.Insert)
        {
            section.Problem(section.PathOf("statement.max-rows"),
                $"is not used with binary COPY, which sink.wire-format {(wire == SinkWireFormat.Copy ? "copy" : "auto")} with sink.write-mode insert chooses; " +
                "remove it, or set sink.wire-format: insert.");
            statementRows = null;
        }

        return new DsqlSinkLoadOptions(rules, precision, scale, serial, cache, mode, wire, chunkRows, chunkBytes, statementRows);
    }

    private static T? Choice<T>(PipelineSection section, string key, (string Name, T Value)[] choices)
        where T : struct, Enum
    {
        var text = section.Text(key);
        if (text is null)
        {
            return null;
        }

        foreach (var (name, value) in choices)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        section.Refuse(key, text, "one of " + string.Join(", ", choices.Select(c => c.Name)) + $" (default {choices[0].Name})");
        return null;
    }

    private static int? Optional(PipelineSection section, string key, int min, int max, string expectation)
        => (int?)Optional(section, key, (long)min, max, expectation);

    private static long? Optional(PipelineSection section, string key, long min, long max, string expectation)
    {
        long value = section.Number(key, -1, min, max, expectation, out bool valid);
        return valid && value != -1 ? value : null;
    }

    [GeneratedRegex(@"^numeric\s*\(\s*(\d{1,9})\s*,\s*(\d{1,9})\s*\)$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex NumericWithPrecision();
}
