using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Bulk;
using Dsql.Sync.Tool;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>
/// <c>dsql-sync load</c> run in-process (its entry point, arguments, captured output) against a source database on
/// the backend cluster and a test emulator.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class ToolLoadTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    private const string Checksum =
        "SELECT count(*)::bigint, coalesce(sum(id), 0)::bigint, coalesce(sum(length(name)), 0)::bigint, coalesce(sum(amount), 0)::numeric FROM {0}";

    [Fact]
    public async Task A_dry_run_prints_the_DDL_and_touches_nothing()
    {
        var (database, orders, items) = await CreateSourceAsync(rows: 20);
        var target = await emulator.DataSourceAsync(backend);
        string file = await WritePipelineAsync(database, [orders, items], "dry");
        try
        {
            var run = await RunAsync("load", file, "--dry-run");

            Assert.Equal(0, run.ExitCode);
            Assert.Contains($"CREATE TABLE \"public\".\"{orders}\"", run.Output, StringComparison.Ordinal);
            Assert.Contains($"CREATE TABLE \"public\".\"{items}\"", run.Output, StringComparison.Ordinal);
            Assert.Contains($"CREATE INDEX ASYNC {orders}_by_name", run.Output, StringComparison.Ordinal);
            Assert.Contains("nothing was written", run.Output, StringComparison.Ordinal);
            Assert.Equal(0L, await CountTablesAsync(target, orders, items));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_load_copies_two_tables_row_for_row_with_their_indexes_and_a_rerun_loads_nothing_twice()
    {
        var (database, orders, items) = await CreateSourceAsync(rows: 700);
        string notes = EmulatorConnections.UniqueName("notes");
        await using (var connection = await OpenSourceAsync(database))
        {
            // No primary key: read in physical order, so a rerun numbers its chunks the same way.
            await using var ddl = new NpgsqlCommand(
                $"CREATE TABLE {notes} (id int, name text, amount numeric(8,2)); INSERT INTO {notes} SELECT g % 50, 'note', 1 FROM generate_series(1, 300) g", connection);
            await ddl.ExecuteNonQueryAsync();
        }
        var target = await emulator.DataSourceAsync(backend);
        string file = await WritePipelineAsync(database, [orders, items, notes], "copy");
        try
        {
            var first = await RunAsync("load", file);

            Assert.True(first.ExitCode == 0, first.Output + first.Error);
            foreach (string table in new[] { orders, items, notes })
            {
                Assert.Equal(await SourceChecksumAsync(database, table), await TargetChecksumAsync(target, table));
            }
            Assert.Equal(700L, (long)(await TargetChecksumAsync(target, orders))[0]!);
            Assert.Equal(2L, await BulkTestEmulator.ScalarAsync<long>(target,
                $"SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('{orders}', '{items}') AND indexname LIKE '%_by_%'"));
            Assert.Contains($"public.{orders}: 700 rows loaded; this process wrote 700 and skipped 0 already loaded", first.Output, StringComparison.Ordinal);

            var second = await RunAsync("load", file);

            Assert.True(second.ExitCode == 0, second.Output + second.Error);
            // The job is complete: nothing is claimed, read or written again.
            Assert.Contains($"public.{orders}: 700 rows loaded; this process wrote 0 and skipped 0 already loaded", second.Output, StringComparison.Ordinal);
            Assert.Contains($"public.{notes}: 300 rows loaded; this process wrote 0", second.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("ddl:", second.Output, StringComparison.Ordinal);
            foreach (string table in new[] { orders, items, notes })
            {
                Assert.Equal(await SourceChecksumAsync(database, table), await TargetChecksumAsync(target, table));
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Ctrl_C_stops_after_whole_chunks_with_exit_130_and_a_rerun_finishes_the_load()
    {
        var (database, orders, items) = await CreateSourceAsync(rows: 1000);
        var target = await emulator.DataSourceAsync(backend);
        string file = await WritePipelineAsync(database, [orders], "stop");
        try
        {
            using var stop = new CancellationTokenSource();
            var interrupted = await RunAsync(["load", file], stop.Token, (_, progress) =>
            {
                if (progress.Chunks >= 2) stop.Cancel();
            });

            Assert.True(interrupted.ExitCode == 130, interrupted.Output + interrupted.Error);
            long loaded = await BulkTestEmulator.ScalarAsync<long>(target, $"SELECT count(*) FROM {orders}");
            Assert.InRange(loaded, 200, 900);
            Assert.Equal(0, loaded % 100);

            var resumed = await RunAsync(["load", file], CancellationToken.None);

            Assert.True(resumed.ExitCode == 0, resumed.Output + resumed.Error);
            Assert.Contains($"public.{orders}: 1,000 rows loaded; this process wrote {1000 - loaded:N0} and skipped {loaded:N0} already loaded", resumed.Output, StringComparison.Ordinal);
            Assert.Equal(await SourceChecksumAsync(database, orders), await TargetChecksumAsync(target, orders));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_refused_source_column_exits_2_naming_the_column_and_the_rules_and_touches_nothing()
    {
        var (database, orders, _) = await CreateSourceAsync(rows: 5);
        string prices = EmulatorConnections.UniqueName("prices");
        await using (var connection = await OpenSourceAsync(database))
        {
            await using var ddl = new NpgsqlCommand($"CREATE TABLE {prices} (id int PRIMARY KEY, price numeric)", connection);
            await ddl.ExecuteNonQueryAsync();
        }
        var target = await emulator.DataSourceAsync(backend);
        string file = await WritePipelineAsync(database, [orders, prices], "refused");
        try
        {
            var run = await RunAsync("load", file);

            Assert.Equal(2, run.ExitCode);
            Assert.Contains($"{prices}.price", run.Error, StringComparison.Ordinal);
            Assert.Contains("TypeRule.", run.Error, StringComparison.Ordinal);
            Assert.Equal(0L, await CountTablesAsync(target, orders, prices));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task With_full_load_disabled_the_tables_and_indexes_are_created_empty()
    {
        var (database, orders, _) = await CreateSourceAsync(rows: 10);
        var target = await emulator.DataSourceAsync(backend);
        string file = await WritePipelineAsync(database, [orders], "schema-only", "  enable-full-load: false\n");
        try
        {
            var run = await RunAsync("load", file);

            Assert.True(run.ExitCode == 0, run.Output + run.Error);
            Assert.Contains("no rows are copied", run.Output, StringComparison.Ordinal);
            Assert.Equal(0L, await BulkTestEmulator.ScalarAsync<long>(target, $"SELECT count(*) FROM {orders}"));
            Assert.Equal(1L, await BulkTestEmulator.ScalarAsync<long>(target,
                $"SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = '{orders}' AND indexname = '{orders}_by_name'"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_bad_pipeline_file_exits_2_naming_the_key()
    {
        string file = Path.Combine(Path.GetTempPath(), $"pipeline-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, PipelineYaml.Minimal(("sink.host", null), ("sink.port", "not-a-port")));
        try
        {
            var run = await RunAsync("load", file);

            Assert.Equal(2, run.ExitCode);
            Assert.Contains("sink.host", run.Error, StringComparison.Ordinal);
            Assert.Contains("sink.port", run.Error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Help_names_the_load_command_and_its_dry_run_option()
    {
        var run = await RunAsync("load", "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("load <pipeline> [options]", run.Output, StringComparison.Ordinal);
        Assert.Contains("--dry-run", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_option_exits_2()
    {
        var run = await RunAsync("load", "pipeline.yaml", "--no-such-option");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--no-such-option", run.Error, StringComparison.Ordinal);
    }

    private sealed record ToolRun(int ExitCode, string Output, string Error);

    private Task<ToolRun> RunAsync(params string[] args) => RunAsync(args, CancellationToken.None);

    private async Task<ToolRun> RunAsync(string[] args, CancellationToken cancellationToken, Action<string, BulkProgress>? onProgress = null)
    {
        // The emulator's harness only exists once DataSourceAsync ran; the tool builds its own data source from the file.
        var clock = (await HarnessAsync())?.Emulator.Clock;
        var hooks = new SyncToolHooks
        {
            ConfigureSink = builder =>
            {
                builder.UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret));
                if (clock is not null) builder.UseTimeProvider(clock);
            },
            // Small chunks so that a load of a thousand rows has several to stop between.
            ConfigureWriter = options => options.MaxRowsPerChunk = 100,
            OnProgress = onProgress,
        };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await SyncTool.RunAsync(args, output, error, hooks, cancellationToken);
        return new ToolRun(code, output.ToString(), error.ToString());
    }

    private Task<ConnectorHarness?> HarnessAsync() => Task.FromResult(emulator.Harness);

    private readonly ToolTestSource _source = new(backend);

    private Task<string> WritePipelineAsync(string database, string[] tables, string name, string extraSinkKeys = "")
        => _source.WritePipelineAsync(emulator.Harness!.Endpoint, database, string.Join(",", tables), $"tool-test-{name}-{Guid.NewGuid():N}", extraSinkKeys);

    private Task<NpgsqlConnection> OpenSourceAsync(string database) => _source.OpenAsync(database);

    private Task<object?[]> SourceChecksumAsync(string database, string table)
        => _source.SourceRowAsync(database, string.Format(System.Globalization.CultureInfo.InvariantCulture, Checksum, table));

    private static Task<object?[]> TargetChecksumAsync(DsqlDataSource target, string table)
        => ToolTestSource.TargetRowAsync(target, string.Format(System.Globalization.CultureInfo.InvariantCulture, Checksum, table));

    private async Task<(string Database, string Orders, string Items)> CreateSourceAsync(int rows)
    {
        string database = await _source.CreateDatabaseAsync("tool_source");
        string orders = EmulatorConnections.UniqueName("orders");
        string items = EmulatorConnections.UniqueName("items");
        await using var connection = await OpenSourceAsync(database);
        await using var ddl = new NpgsqlCommand($"""
            CREATE TABLE {orders} (id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2));
            CREATE INDEX {orders}_by_name ON {orders} (name);
            CREATE TABLE {items} (id bigint PRIMARY KEY, name varchar(40), amount numeric(12,2), at timestamptz);
            CREATE INDEX {items}_by_at ON {items} (at);
            INSERT INTO {orders} SELECT g, 'order ' || g, g * 1.25 FROM generate_series(1, {rows}) g;
            INSERT INTO {items} SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'item-' || (g * 31) END, g % 100 + 0.5,
                   timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, {rows} / 2) g;
            """, connection);
        await ddl.ExecuteNonQueryAsync();
        return (database, orders, items);
    }

    private static Task<long> CountTablesAsync(DsqlDataSource target, string orders, string items)
        => BulkTestEmulator.ScalarAsync<long>(target,
            $"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('{orders}', '{items}')");
}
