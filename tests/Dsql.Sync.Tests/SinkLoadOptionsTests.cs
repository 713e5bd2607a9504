using Dsql.Sync.Bulk;
using Dsql.Sync.Pipeline;
using Dsql.Sync.Schema;
using static Dsql.Sync.Tests.PipelineYaml;

namespace Dsql.Sync.Tests;

/// <summary>dsql-sync's own sink keys (type mapping, serial mapping, writer settings) and <c>--set</c> overrides, read from pipeline text.</summary>
public sealed class SinkLoadOptionsTests
{
    private static DsqlSinkLoadOptions Read(params (string Path, string? Value)[] changes) =>
        PipelineDefinition.Parse(Minimal(changes)).Sink.LoadOptions;

    private static PipelineProblem RefusedAt(string path, params (string Path, string? Value)[] changes)
    {
        var ex = Assert.Throws<PipelineFileException>(() => PipelineDefinition.Parse(Minimal(changes), "test.yaml"));
        return Assert.Single(ex.Problems, p => p.Path == path);
    }

    private static readonly (TypeFamily Family, string Key)[] Families =
    [
        (TypeFamily.Json, "json"), (TypeFamily.Array, "array"), (TypeFamily.Enum, "enum"), (TypeFamily.Composite, "composite"),
        (TypeFamily.Network, "network"), (TypeFamily.Geometric, "geometric"), (TypeFamily.Range, "range"), (TypeFamily.Money, "money"),
        (TypeFamily.Xml, "xml"), (TypeFamily.BitString, "bit-string"), (TypeFamily.TextSearch, "text-search"),
        (TypeFamily.UnconstrainedNumeric, "unconstrained-numeric"), (TypeFamily.Other, "other"),
    ];

    private static string RuleName(TypeRule rule) => rule.ToString().ToLowerInvariant();

    /// <summary>Every family with every rule: accepted when <see cref="SchemaMappingOptions.AllowedRules"/> allows it.</summary>
    public static TheoryData<TypeFamily, string, TypeRule, bool> EveryFamilyAndRule()
    {
        var data = new TheoryData<TypeFamily, string, TypeRule, bool>();
        foreach (var (family, key) in Families)
        {
            foreach (var rule in Enum.GetValues<TypeRule>())
            {
                data.Add(family, key, rule, SchemaMappingOptions.AllowedRules(family).Contains(rule));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryFamilyAndRule))]
    public void A_type_mapping_key_takes_the_rules_its_family_allows_and_refuses_the_others_listing_them(TypeFamily family, string key, TypeRule rule, bool allowed)
    {
        string path = "sink.type-mapping." + key;
        if (allowed)
        {
            var options = Read((path, RuleName(rule)));

            Assert.Equal(rule, options.TypeRules[family]);
            Assert.Equal(rule, options.ToSchemaMappingOptions().RuleFor(family));
        }
        else
        {
            var problem = RefusedAt(path, (path, RuleName(rule)));

            Assert.Contains($"'{RuleName(rule)}' is not accepted", problem.Message, StringComparison.Ordinal);
            foreach (var accepted in SchemaMappingOptions.AllowedRules(family))
                Assert.Contains(RuleName(accepted), problem.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(TypeFamily.UnconstrainedNumeric, "sink.type-mapping.unconstrained-numeric: numeric, numeric(p,s) or text")]
    [InlineData(TypeFamily.Json, "sink.type-mapping.json: jsonb or text")]
    [InlineData(TypeFamily.BitString, "sink.type-mapping.bit-string: text")]
    public void A_refusal_hint_names_the_files_key_and_its_values(TypeFamily family, string hint)
    {
        Assert.Equal(hint, DsqlSinkLoadOptions.TypeMappingHint(family));
    }

    [Fact]
    public void Without_the_keys_every_default_stays()
    {
        var options = Read();

        Assert.Empty(options.TypeRules);
        var mapping = options.ToSchemaMappingOptions();
        foreach (var (family, rule) in SchemaMappingOptions.DefaultTypeRules) Assert.Equal(rule, mapping.RuleFor(family));
        Assert.Equal(SerialMapping.Identity, mapping.Serial);
        Assert.Equal(SchemaMappingOptions.MinimumIdentityCache, mapping.IdentityCache);
        Assert.Equal(BulkWriteMode.Insert, options.WriteMode);
        Assert.Equal(SinkWireFormat.Auto, options.WireFormat);
        Assert.Equal(BulkWireFormat.BinaryCopy, options.ResolvedWireFormat);
        var writer = new DsqlBulkWriterOptions();
        options.ApplyTo(writer);
        Assert.Equal(DsqlBulkWriterOptions.DsqlMaxRowsPerTransaction, writer.MaxRowsPerChunk);
        Assert.Equal(DsqlBulkWriterOptions.DefaultMaxBytesPerChunk, writer.MaxBytesPerChunk);
        Assert.Equal(DsqlBulkWriterOptions.DefaultMaxRowsPerStatement, writer.MaxRowsPerStatement);
    }

    [Theory]
    [InlineData("numeric", 38, 10)]
    [InlineData("numeric(20,4)", 20, 4)]
    [InlineData("NUMERIC( 1000 , 0 )", 1000, 0)]
    [InlineData("numeric(5,5)", 5, 5)]
    public void Unconstrained_numeric_takes_numeric_with_or_without_precision_and_scale(string value, int precision, int scale)
    {
        var mapping = Read(("sink.type-mapping.unconstrained-numeric", value)).ToSchemaMappingOptions();

        Assert.Equal(TypeRule.Numeric, mapping.RuleFor(TypeFamily.UnconstrainedNumeric));
        Assert.Equal(precision, mapping.UnconstrainedNumericPrecision);
        Assert.Equal(scale, mapping.UnconstrainedNumericScale);
    }

    [Theory]
    [InlineData("sink.type-mapping.unconstrained-numeric", "numeric(1001,2)", "precision p from 1 to 1000")]
    [InlineData("sink.type-mapping.unconstrained-numeric", "numeric(5,6)", "scale s from 0 to p")]
    [InlineData("sink.type-mapping.unconstrained-numeric", "numeric(0,0)", "precision p from 1 to 1000")]
    [InlineData("sink.type-mapping.unconstrained-numeric", "jsonb", "numeric, numeric(p,s), text, refuse")]
    [InlineData("sink.type-mapping.money", "numeric(20,4)", "numeric, text, refuse")]
    [InlineData("sink.serial-mapping", "bigserial", "identity, uuid")]
    [InlineData("sink.identity-cache", "100", "1 or a number of at least 65536")]
    [InlineData("sink.identity-cache", "0", "1 or a number of at least 65536")]
    [InlineData("sink.identity-cache", "many", "1 or a number of at least 65536")]
    [InlineData("sink.write-mode", "merge", "insert, insert-ignore, upsert")]
    [InlineData("sink.wire-format", "csv", "auto, copy, insert")]
    [InlineData("sink.chunk.max-rows", "3000", "from 1 to 2999")]
    [InlineData("sink.chunk.max-rows", "0", "from 1 to 2999")]
    [InlineData("sink.chunk.max-bytes", "16383", "from 16384 to 10485760")]
    [InlineData("sink.chunk.max-bytes", "10485761", "from 16384 to 10485760")]
    [InlineData("sink.chunk.max-bytes", "9mb", "from 16384 to 10485760")]
    [InlineData("sink.statement.max-rows", "3001", "from 1 to 3000")]
    public void A_bad_value_is_refused_naming_the_key_the_value_and_what_is_accepted(string path, string value, string accepted)
    {
        // wire-format insert, so that statement.max-rows is judged by its range alone.
        var problem = path == "sink.wire-format"
            ? RefusedAt(path, (path, value))
            : RefusedAt(path, (path, value), ("sink.wire-format", "insert"));

        Assert.Contains($"'{value}' is not accepted", problem.Message, StringComparison.Ordinal);
        Assert.Contains(accepted, problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("identity", SerialMapping.Identity)]
    [InlineData("uuid", SerialMapping.Uuid)]
    public void Serial_mapping_reaches_the_mapping_options(string value, SerialMapping expected)
    {
        var options = Read(("sink.serial-mapping", value));

        Assert.Equal(expected, options.SerialMapping);
        Assert.Equal(expected, options.ToSchemaMappingOptions().Serial);
    }

    [Theory]
    [InlineData("1", 1L)]
    [InlineData("65536", 65536L)]
    [InlineData("1_000_000", 1_000_000L)]
    public void Identity_cache_takes_1_or_at_least_65536(string value, long expected)
    {
        Assert.Equal(expected, Read(("sink.identity-cache", value)).ToSchemaMappingOptions().IdentityCache);
    }

    [Fact]
    public void Identity_cache_with_uuid_serial_mapping_is_refused_naming_both_keys()
    {
        var problem = RefusedAt("sink.identity-cache", ("sink.identity-cache", "65536"), ("sink.serial-mapping", "uuid"));

        Assert.Contains("sink.serial-mapping", problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("insert", null, BulkWriteMode.Insert, BulkWireFormat.BinaryCopy)]
    [InlineData("insert", "auto", BulkWriteMode.Insert, BulkWireFormat.BinaryCopy)]
    [InlineData("insert", "copy", BulkWriteMode.Insert, BulkWireFormat.BinaryCopy)]
    [InlineData("insert", "insert", BulkWriteMode.Insert, BulkWireFormat.MultiRowInsert)]
    [InlineData("insert-ignore", null, BulkWriteMode.InsertIgnore, BulkWireFormat.MultiRowInsert)]
    [InlineData("upsert", "auto", BulkWriteMode.Upsert, BulkWireFormat.MultiRowInsert)]
    [InlineData("upsert", "insert", BulkWriteMode.Upsert, BulkWireFormat.MultiRowInsert)]
    public void Write_mode_and_wire_format_reach_the_writer(string mode, string? wire, BulkWriteMode expectedMode, BulkWireFormat expectedWire)
    {
        var options = Read(("sink.write-mode", mode), ("sink.wire-format", wire));
        var writer = new DsqlBulkWriterOptions { Table = "t" };

        options.ApplyTo(writer);

        Assert.Equal(expectedMode, writer.Mode);
        Assert.Equal(expectedWire, writer.WireFormat);
        writer.Validate();
    }

    [Theory]
    [InlineData("insert-ignore")]
    [InlineData("upsert")]
    public void Copy_with_another_write_mode_is_refused_naming_both_keys(string mode)
    {
        var problem = RefusedAt("sink.wire-format", ("sink.write-mode", mode), ("sink.wire-format", "copy"));

        Assert.Contains("sink.write-mode", problem.Message, StringComparison.Ordinal);
        Assert.Contains(mode, problem.Message, StringComparison.Ordinal);
        Assert.Contains("ON CONFLICT", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chunk_and_statement_sizes_reach_the_writer()
    {
        var options = Read(("sink.chunk.max-rows", "2999"), ("sink.chunk.max-bytes", "1048576"),
            ("sink.statement.max-rows", "500"), ("sink.wire-format", "insert"));
        var writer = new DsqlBulkWriterOptions { Table = "t" };

        options.ApplyTo(writer);

        Assert.Equal(2999, writer.MaxRowsPerChunk);
        Assert.Equal(1_048_576, writer.MaxBytesPerChunk);
        Assert.Equal(500, writer.MaxRowsPerStatement);
        writer.Validate();
        Assert.Equal(16384, Read(("sink.chunk.max-bytes", "16384")).MaxBytesPerChunk);
        Assert.Equal(1, Read(("sink.chunk.max-rows", "1")).MaxRowsPerChunk);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("copy")]
    public void Statement_rows_are_refused_where_binary_COPY_sends_the_rows(string? wire)
    {
        var problem = RefusedAt("sink.statement.max-rows", ("sink.statement.max-rows", "500"), ("sink.wire-format", wire));

        Assert.Contains("sink.wire-format: insert", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_nested_type_mapping_is_refused_with_the_flat_form()
    {
        var problem = RefusedAt("sink.type-mapping", ("sink.type-mapping", "\n    json: text"));

        Assert.Contains("type-mapping.json", problem.Message, StringComparison.Ordinal);
        Assert.Contains("flat", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Overrides_set_change_and_add_keys_and_sections_before_the_checks()
    {
        string yaml = Minimal(("sink.port", "6543"), ("sink.write-mode", "upsert"));

        var definition = PipelineDefinition.Parse(yaml, "test.yaml",
            ["sink.port=7654", "sink.write-mode=insert", "sink.wire-format = insert", "sink.type-mapping.json=text", "pipeline.parallelism=4", "pipeline.parallelism=5"]);

        Assert.Equal(7654, definition.Sink.Port);
        Assert.Equal(BulkWriteMode.Insert, definition.Sink.LoadOptions.WriteMode);
        Assert.Equal(BulkWireFormat.MultiRowInsert, definition.Sink.LoadOptions.ResolvedWireFormat);
        Assert.Equal(TypeRule.Text, definition.Sink.LoadOptions.TypeRules[TypeFamily.Json]);
        Assert.Equal(5, definition.Pipeline.Parallelism);
    }

    [Fact]
    public void An_empty_override_removes_the_value()
    {
        var definition = PipelineDefinition.Parse(Minimal(("sink.region", "us-east-1")), "test.yaml", ["sink.region="]);

        Assert.Null(definition.Sink.Region);
    }

    [Fact]
    public void Bad_overrides_are_refused_naming_each_one_and_an_overridden_bad_value_says_where_it_came_from()
    {
        var ex = Assert.Throws<PipelineFileException>(() => PipelineDefinition.Parse(Minimal(), "test.yaml",
            ["sink.wire-format", "target.host=x", "sink=dsql", "sink.write-mode=merge", "sink.no-such-key=1"]));

        var paths = ex.Problems.Select(p => p.Path).ToArray();
        Assert.Contains("--set sink.wire-format", paths);
        Assert.Contains("has no '='", ex.Problems.Single(p => p.Path == "--set sink.wire-format").Message, StringComparison.Ordinal);
        Assert.Contains("section 'target', which does not exist", ex.Problems.Single(p => p.Path == "--set target.host=x").Message, StringComparison.Ordinal);
        Assert.Contains("names no key", ex.Problems.Single(p => p.Path == "--set sink=dsql").Message, StringComparison.Ordinal);
        var mode = ex.Problems.Single(p => p.Path == "sink.write-mode").Message;
        Assert.Contains("'merge' is not accepted", mode, StringComparison.Ordinal);
        Assert.Contains("comes from --set", mode, StringComparison.Ordinal);
        Assert.Contains("is not a key of 'sink:'", ex.Problems.Single(p => p.Path == "sink.no-such-key").Message, StringComparison.Ordinal);
        Assert.Equal(5, ex.Problems.Count);
    }
}
