using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Schema;
using Dsql.Sync.Tool;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>
/// dsql-sync's own sink keys and <c>--set</c> through <c>dsql-sync load</c> (run in-process), and the check of an
/// existing target table against its mapping, against a source database on the backend cluster and a test emulator.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class ToolSinkOptionsTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    private const string Checksum =
        "SELECT count(*)::bigint, coalesce(sum(id), 0)::bigint, coalesce(sum(price), 0)::numeric, coalesce(sum(qty), 0)::bigint, count(doc)::bigint FROM {0}";

    [Fact]
    public async Task Unconstrained_numeric_mapped_to_numeric_loads_where_the_default_refuses_and_a_rerun_with_another_mapping_is_refused()
    {
        var target = await emulator.DataSourceAsync(backend);
        string database = await CreateDatabaseAsync();
        string prices = EmulatorConnections.UniqueName("prices");
        string qty = EmulatorConnections.UniqueName("qty");
        await ExecuteOnSourceAsync(database, $"""
            CREATE DOMAIN {qty} AS integer CHECK (VALUE >= 0);
            CREATE TABLE {prices} (id serial PRIMARY KEY, price numeric, qty {qty} NOT NULL, doc json);
            CREATE TABLE {prices}_log (at timestamptz, note text);
            INSERT INTO {prices} (price, qty, doc)
                SELECT g * 1.125, g % 7, CASE WHEN g % 3 = 0 THEN NULL ELSE json_build_object('n', g) END FROM generate_series(1, 250) g;
            """);
        string refused = await WritePipelineAsync(database, prices, "");
        string mapped = await WritePipelineAsync(database, prices, "  type-mapping.unconstrained-numeric: numeric\n");
        try
        {
            var byDefault = await RunAsync("load", refused);

            Assert.True(byDefault.ExitCode == 2, byDefault.Output + byDefault.Error);
            Assert.Contains($"{prices}.price", byDefault.Error, StringComparison.Ordinal);
            Assert.Contains("in the pipeline file: sink.type-mapping.unconstrained-numeric: numeric, numeric(p,s) or text", byDefault.Error, StringComparison.Ordinal);

            // The default wire form (auto, write-mode insert) is binary COPY: serial -> bigint identity, a domain, json -> jsonb.
            var load = await RunAsync("load", mapped);

            Assert.True(load.ExitCode == 0, load.Output + load.Error);
            Assert.Equal(await SourceChecksumAsync(database, prices), await TargetChecksumAsync(target, prices));
            Assert.Equal("numeric(38,10)", await BulkTestEmulator.ScalarAsync<string>(target,
                $"SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{prices}'::regclass AND attname = 'price'"));

            // The same mapping again, schema only: the table exists and matches it.
            var rerun = await RunAsync("load", mapped, "--set", "sink.enable-full-load=false");

            Assert.True(rerun.ExitCode == 0, rerun.Output + rerun.Error);
            Assert.Contains($"table public.{prices}: exists, skipped", rerun.Output, StringComparison.Ordinal);

            // --set overrides the file's rule: the table the first load made no longer matches the mapping. The job is
            // complete, but a process checks the existing tables against its own mapping before anything else.
            var changed = await RunAsync("load", mapped, "--set", "sink.type-mapping.unconstrained-numeric=text", "--set", "sink.wire-format=insert");

            Assert.True(changed.ExitCode == 2, changed.Output + changed.Error);
            Assert.Contains($"public.{prices}.price: the mapping makes it text, the target has numeric(38,10)", changed.Error, StringComparison.Ordinal);
            Assert.Contains($"DROP TABLE \"public\".\"{prices}\"", changed.Error, StringComparison.Ordinal);
            Assert.Equal(await SourceChecksumAsync(database, prices), await TargetChecksumAsync(target, prices));

            // Upsert needs a primary key on every table: refused before anything is written, even in a dry run.
            var upsert = await RunAsync("load", mapped, "--dry-run", "--set", $"source.table-name={prices},{prices}_log", "--set", "sink.write-mode=upsert");

            Assert.True(upsert.ExitCode == 2, upsert.Output + upsert.Error);
            Assert.Contains($"sink.write-mode upsert needs a primary key, and 1 table(s) have none: public.{prices}_log", upsert.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(refused);
            File.Delete(mapped);
        }
    }

    [Fact]
    public async Task Bad_overrides_exit_2_naming_each_one_before_anything_connects()
    {
        string file = Path.Combine(Path.GetTempPath(), $"pipeline-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, PipelineYaml.Minimal());
        try
        {
            var run = await RunAsync("load", file, "--set", "sink.write-mode", "--set", "target.host=x", "--set", "sink.wire-format=csv");

            Assert.Equal(2, run.ExitCode);
            Assert.Contains("--set sink.write-mode: has no '='", run.Error, StringComparison.Ordinal);
            Assert.Contains("--set target.host=x: names the section 'target'", run.Error, StringComparison.Ordinal);
            Assert.Contains("sink.wire-format: 'csv' is not accepted", run.Error, StringComparison.Ordinal);
            Assert.Contains("comes from --set", run.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Help_names_the_set_option()
    {
        var run = await RunAsync("load", "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("--set <section.key=value>", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_existing_table_is_compared_with_its_mapping_column_by_column()
    {
        var target = await emulator.DataSourceAsync(backend);
        string domain = EmulatorConnections.UniqueName("code");
        await target.ExecuteNonQueryAsync($"CREATE DOMAIN {domain} AS varchar(8) CHECK (VALUE <> '')");
        string same = await BulkTestEmulator.CreateTableAsync(target, "same",
            $"id bigint PRIMARY KEY, name character varying(40), amount numeric(12,2), at timestamp(3) with time zone, code {domain}, extra text, made bigint DEFAULT 1 NOT NULL");
        string other = await BulkTestEmulator.CreateTableAsync(target, "other",
            "id bigint PRIMARY KEY, name text, at timestamp(3) with time zone, code text, required int NOT NULL");

        var identical = await CompareAsync(target, Mapping(same, domain));
        var differences = await CompareAsync(target, Mapping(other, domain));
        var missing = await CompareAsync(target, Mapping(EmulatorConnections.UniqueName("absent"), domain));

        Assert.Empty(identical);
        Assert.Equal(
        [
            new TableDifference($"public.{other}", "name", TableDifferenceKind.DifferentType, "character varying(40)", "text"),
            new TableDifference($"public.{other}", "amount", TableDifferenceKind.MissingColumn, "numeric(12,2)", null),
            new TableDifference($"public.{other}", "code", TableDifferenceKind.DifferentType, $"\"public\".\"{domain}\"", "text"),
            new TableDifference($"public.{other}", "required", TableDifferenceKind.ExtraNotNullColumn, null, "integer"),
        ], differences);
        Assert.Equal("public." + other + ".amount: the mapping has this column (numeric(12,2)), the target table does not", differences[1].ToString());
        Assert.Equal(TableDifferenceKind.MissingTable, Assert.Single(missing).Kind);
    }

    private static TableMapping Mapping(string table, string domain) => new("public", table,
    [
        new ColumnMapping("id", "integer", "bigint", "\"id\"", true, false),
        new ColumnMapping("name", "character varying(40)", "character varying(40)", "\"name\"", true, false),
        new ColumnMapping("amount", "numeric(12,2)", "numeric(12,2)", "\"amount\"", true, false),
        new ColumnMapping("at", "timestamp(3) with time zone", "timestamp(3) with time zone", "\"at\"", true, false),
        new ColumnMapping("code", domain, $"\"public\".\"{domain}\"", "\"code\"", true, false),
    ], ["id"]);

    private static Task<IReadOnlyList<TableDifference>> CompareAsync(DsqlDataSource target, TableMapping mapping)
        => target.ExecuteInTransactionAsync((connection, token) => DsqlSchemaApplier.CompareExistingAsync(connection, mapping, token));

    private sealed record ToolRun(int ExitCode, string Output, string Error);

    private async Task<ToolRun> RunAsync(params string[] args)
    {
        var clock = emulator.Harness?.Emulator.Clock;
        var hooks = new SyncToolHooks
        {
            ConfigureSink = builder =>
            {
                builder.UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret));
                if (clock is not null) builder.UseTimeProvider(clock);
            },
        };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await SyncTool.RunAsync(args, output, error, hooks, CancellationToken.None);
        return new ToolRun(code, output.ToString(), error.ToString());
    }

    private ToolTestSource Source => new(backend);

    private Task<string> WritePipelineAsync(string database, string table, string extraSinkKeys)
        => Source.WritePipelineAsync(emulator.Harness!.Endpoint, database, table, $"sink-options-{Guid.NewGuid():N}", extraSinkKeys);

    private Task<string> CreateDatabaseAsync() => Source.CreateDatabaseAsync("cfg_source");

    private Task ExecuteOnSourceAsync(string database, string sql) => Source.ExecuteAsync(database, sql);

    private Task<object?[]> SourceChecksumAsync(string database, string table)
        => Source.SourceRowAsync(database, string.Format(System.Globalization.CultureInfo.InvariantCulture, Checksum, table));

    private static Task<object?[]> TargetChecksumAsync(DsqlDataSource target, string table)
        => ToolTestSource.TargetRowAsync(target, string.Format(System.Globalization.CultureInfo.InvariantCulture, Checksum, table));
}
