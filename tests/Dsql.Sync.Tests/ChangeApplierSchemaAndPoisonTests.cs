using System.Diagnostics.Metrics;
using Dsql.Connector;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Cdc;
using static Dsql.Sync.Tests.ChangeApplierStreams;

namespace Dsql.Sync.Tests;

/// <summary>The change applier's schema changes (Apply and Stop) and poison changes (Stop and DeadLetter).</summary>
[Collection(BackendCollection.Name)]
public sealed class ChangeApplierSchemaAndPoisonTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    private static List<string> Sorted(params string[] rows) => rows.Order(StringComparer.Ordinal).ToList();

    private async Task<(DsqlDataSource DataSource, string Table, ChangeTable Shape)> PeopleAsync()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "people", "id integer PRIMARY KEY, name text, note text");
        return (dataSource, table, People(table));
    }

    private static Task<string> ColumnsAsync(DsqlDataSource dataSource, string table)
        => BulkTestEmulator.ScalarAsync<string>(dataSource,
            $"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped");

    [Fact]
    public async Task A_column_added_then_one_dropped_at_the_source_are_applied_to_DSQL()
    {
        var (dataSource, table, v1) = await PeopleAsync();
        var v2 = Shape(table, ("id", "integer", true), ("name", "text", false), ("note", "text", false), ("score", "numeric(10,2)", false), ("tags", "integer[]", false));
        var v3 = Shape(table, ("id", "integer", true), ("name", "text", false), ("score", "numeric(10,2)", false), ("tags", "integer[]", false));
        var applier = Applier(dataSource, "schema");
        await applier.EnsureCreatedAsync();

        await applier.ApplyAsync(Stream([
            Transaction(10, Insert(v1, 1, "ann", "a")),
            Transaction(20, Insert(v1, 2, "bob", "b"), Insert(v2, 3, "cy", "c", "1.50", "[1, 2]")),
            Transaction(30, Update(v3, [1, "ann", "2.25", null]), Insert(v3, 4, "dee", null, null)),
        ]));

        // tags: an array type, which DSQL lacks: TypeFamily.Array's default rule makes it jsonb.
        Assert.Equal("id integer, name text, score numeric(10,2), tags jsonb", await ColumnsAsync(dataSource, table));
        Assert.Equal(Sorted("1|ann|2.25|-", "2|bob|-|-", "3|cy|1.50|[1, 2]", "4|dee|-|-"), await RowsAsync(dataSource, table, "id, name, score, tags"));
    }

    [Fact]
    public async Task A_column_only_DSQL_has_is_kept_and_a_column_seen_then_gone_is_dropped()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "extra", "id integer PRIMARY KEY, name text, note text, audit text DEFAULT 'dsql'");
        var v1 = People(table);
        var v2 = Shape(table, ("id", "integer", true), ("name", "text", false));
        var applier = Applier(dataSource, "extra", o => o.SchemaChanges = SchemaChangeBehavior.Apply);
        await applier.EnsureCreatedAsync();

        // audit never comes from the source (a DSQL-only column, or one generated at the source): it stays, with its default.
        await applier.ApplyAsync(Stream([Transaction(10, Insert(v1, 1, "ann", "a"), Insert(v1, 2, "bob", "b")), Transaction(20, Update(v1, [1, "ann2", "a2"]))]));
        Assert.Equal("id integer, name text, note text, audit text", await ColumnsAsync(dataSource, table));
        Assert.Equal(Sorted("1|ann2|a2|dsql", "2|bob|b|dsql"), await RowsAsync(dataSource, table, "id, name, note, audit"));

        // note was in the shapes this run saw, then a shape without it came: dropped at the source, so dropped on DSQL.
        await applier.ApplyAsync(Stream([Transaction(30, Insert(v1, 3, "cy", "c")), Transaction(40, Insert(v2, 4, "dee"))]));
        Assert.Equal("id integer, name text, audit text", await ColumnsAsync(dataSource, table));
        Assert.Equal(Sorted("1|ann2|dsql", "2|bob|dsql", "3|cy|dsql", "4|dee|dsql"), await RowsAsync(dataSource, table, "id, name, audit"));
    }

    [Fact]
    public async Task A_schema_change_under_Stop_names_the_table_column_and_position()
    {
        var (dataSource, table, v1) = await PeopleAsync();
        var v2 = Shape(table, ("id", "integer", true), ("name", "text", false), ("note", "text", false), ("score", "integer", false));
        var applier = Applier(dataSource, "schema-stop", o => o.SchemaChanges = SchemaChangeBehavior.Stop);
        await applier.EnsureCreatedAsync();

        var error = await Assert.ThrowsAsync<ChangeApplyException>(() => applier.ApplyAsync(Stream([
            Transaction(10, Insert(v1, 1, "ann", null)),
            Transaction(20, Insert(v2, 2, "bob", null, 7)),
        ])));

        Assert.Contains("column score", error.Message);
        Assert.Contains(table, error.Message);
        Assert.Contains("0/14", error.Message); // LSN 20
        Assert.Equal((20UL, 0), (error.CommitLsn, error.ChangeIndex));
        Assert.Equal(new ChangePosition(10, 1, true), await applier.GetPositionAsync());
        Assert.Equal("id integer, name text, note text", await ColumnsAsync(dataSource, table));
    }

    [Fact]
    public async Task A_change_over_a_DSQL_limit_is_dead_lettered_with_its_value_cut()
    {
        var (dataSource, table, t) = await PeopleAsync();
        string deadLetters = EmulatorConnections.UniqueName("dead");
        var applier = Applier(dataSource, "over-limit", o => { o.Poison = PoisonBehavior.DeadLetter; o.DeadLetterTable = deadLetters; });
        await applier.EnsureCreatedAsync();
        string huge = new('h', 11 * 1024 * 1024); // over DSQL's 10 MiB per transaction on its own

        await applier.ApplyAsync(Stream([Transaction(10, Insert(t, 1, "ann", null), Insert(t, 2, "huge", huge), Insert(t, 3, "cy", null))]));

        Assert.Equal(Sorted("1|ann|-", "3|cy|-"), await RowsAsync(dataSource, table));
        var letter = Assert.Single(await RowsAsync(dataSource, deadLetters, "change_index, sql_state, (length(change_values) < 5000)"));
        Assert.Equal("1|54000|true", letter);
    }

    [Theory]
    [InlineData("integer", "integer")]
    [InlineData("numeric(12,2)", "numeric(12,2)")]
    [InlineData("timestamp(3) with time zone", "timestamp(3) with time zone")]
    [InlineData("character varying(20)", "character varying(20)")]
    [InlineData("text[]", "jsonb")]
    [InlineData("json", "jsonb")]
    [InlineData("inet", "text")]
    [InlineData("money", "numeric(20,2)")]
    [InlineData("int4range", "text")]
    [InlineData("numeric", null)]
    [InlineData("pg_lsn", null)]
    public void An_added_column_type_follows_the_bulk_mapping_rules(string source, string? expected)
    {
        var (type, reason) = Schema.TypeNameMapping.Map(source, new Schema.SchemaMappingOptions());
        Assert.Equal(expected, type);
        if (expected is null) Assert.Contains("SchemaMappingOptions.TypeRules", reason);
        var numeric = new Schema.SchemaMappingOptions { TypeRules = { [Schema.TypeFamily.UnconstrainedNumeric] = Schema.TypeRule.Numeric } };
        Assert.Equal("numeric(38,10)", Schema.TypeNameMapping.Map("numeric", numeric).Type);
    }

    private static SourceTransaction[] WithPoison(ChangeTable t) =>
    [
        Transaction(10, Insert(t, 1, "ann", null)),
        Transaction(20, Insert(t, 2, "bob", null), Insert(t, "not a number", "bad", null), Insert(t, 3, "cy", null)),
        Transaction(30, Insert(t, 4, "dee", null)),
    ];

    [Fact]
    public async Task A_poison_change_under_Stop_stops_with_its_table_kind_position_and_reason()
    {
        var (dataSource, table, t) = await PeopleAsync();
        var applier = Applier(dataSource, "poison-stop");
        await applier.EnsureCreatedAsync();

        var error = await Assert.ThrowsAsync<ChangeApplyException>(() => applier.ApplyAsync(Stream(WithPoison(t))));

        Assert.Equal("public." + table, error.Table);
        Assert.Equal(ChangeKind.Insert, error.Kind);
        Assert.Equal((20UL, 1), (error.CommitLsn, error.ChangeIndex));
        Assert.Equal("22P02", error.SqlState);
        Assert.Contains("Poison", error.Message);
        // Everything before it is committed; it and what follows are not.
        Assert.Equal(new ChangePosition(20, 1, false), await applier.GetPositionAsync());
        Assert.Equal(Sorted("1|ann|-", "2|bob|-"), await RowsAsync(dataSource, table));
    }

    [Fact]
    public async Task A_poison_change_under_DeadLetter_is_recorded_counted_and_skipped()
    {
        var (dataSource, table, t) = await PeopleAsync();
        string deadLetters = EmulatorConnections.UniqueName("dead");
        var applier = Applier(dataSource, "poison-dead", o => { o.Poison = PoisonBehavior.DeadLetter; o.DeadLetterTable = deadLetters; });
        await applier.EnsureCreatedAsync();
        long counted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Name == "dsql.sync.cdc.dead_letters") l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags) if (tag.Value as string == "poison-dead") Interlocked.Add(ref counted, value);
        });
        listener.Start();
        var progress = new RecordingProgress<ChangeApplyProgress>();

        var final = await applier.ApplyAsync(Stream(WithPoison(t)), progress: progress);

        Assert.Equal(Sorted("1|ann|-", "2|bob|-", "3|cy|-", "4|dee|-"), await RowsAsync(dataSource, table));
        Assert.Equal(new ChangePosition(30, 1, true), final);
        Assert.Equal(1, progress.Reports[^1].DeadLetters);
        Assert.Equal(1, Interlocked.Read(ref counted));
        var letter = await RowsAsync(dataSource, deadLetters, "commit_lsn, change_index, table_name, kind, sql_state, change_values");
        Assert.Equal($"20|1|public.{table}|insert|22P02|{{\"new\":{{\"id\":\"not a number\",\"name\":\"bad\",\"note\":null}}}}", Assert.Single(letter));
    }
}
