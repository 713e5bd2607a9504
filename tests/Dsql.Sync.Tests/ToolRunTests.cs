using System.Diagnostics;
using Amazon.Runtime;
using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Tool;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>
/// <c>dsql-sync run</c> in-process: a source with <c>wal_level = logical</c> written to while the tool loads and
/// streams, a test emulator as the target, stops and restarts.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class ToolRunTests(BackendFixture backend, BulkTestEmulator emulator, LogicalSourceFixture logical)
    : IClassFixture<BulkTestEmulator>, IClassFixture<LogicalSourceFixture>
{
    private const string Checksum = "SELECT count(*)::bigint, coalesce(sum(id), 0)::bigint, coalesce(sum(qty), 0)::bigint, coalesce(sum(length(note)), 0)::bigint FROM {0}";

    [Fact]
    public async Task Run_loads_from_the_slot_snapshot_while_the_source_is_written_then_streams_and_resumes_after_a_stop()
    {
        var target = await emulator.DataSourceAsync(backend);
        string table = EmulatorConnections.UniqueName("stock");
        string source = await logical.CreateDatabaseAsync($"""
            CREATE TABLE {table} (id int PRIMARY KEY, qty int NOT NULL, note text);
            INSERT INTO {table} SELECT g, g % 10, 'row ' || g FROM generate_series(1, 2000) g;
            """);
        string file = await WritePipelineAsync(source, table);
        try
        {
            // Writes go on at the source from before the slot exists until the stream is running.
            using var stopWriting = new CancellationTokenSource();
            var writer = Task.Run(() => WriteContinuouslyAsync(source, table, 100_000, stopWriting.Token));
            var first = StartRun(file);
            await first.WaitForAsync("streaming changes from");
            await Task.Delay(300);
            await stopWriting.CancelAsync();
            int written = await writer;
            Assert.True(written > 0);

            // Mixed changes in one transaction: update, key update, delete, insert.
            await LogicalSourceFixture.ExecuteAsync(source, $"""
                BEGIN;
                UPDATE {table} SET qty = qty + 100 WHERE id <= 50;
                UPDATE {table} SET id = id + 1000000 WHERE id BETWEEN 51 AND 60;
                DELETE FROM {table} WHERE id BETWEEN 61 AND 80;
                INSERT INTO {table} VALUES (5000000, 1, NULL);
                COMMIT;
                """);
            await WaitEqualAsync(source, target, table);
            Assert.Equal(0, await first.StopAsync());
            Assert.Contains("created slot", first.Output, StringComparison.Ordinal);
            Assert.Contains("rows loaded", first.Output, StringComparison.Ordinal);
            Assert.Contains("stopped at", first.Output, StringComparison.Ordinal);

            // status reads both sides and changes nothing.
            var status = new RunningTool(["status", file], first.Hooks);
            Assert.Equal(0, await status.WaitExitAsync());
            Assert.Matches(@"load: +job \S+ done: 1 of 1 slice\(s\) done, [0-9,]+ rows loaded", status.Output);
            Assert.Contains("target: changes applied up to", status.Output, StringComparison.Ordinal);
            Assert.Matches(@"source: slot dsql_sync_run_\w+ not in use, confirmed up to [0-9A-F]+/[0-9A-F]+", status.Output);

            // Changes made while nothing runs arrive after the restart; nothing is loaded twice.
            await LogicalSourceFixture.ExecuteAsync(source, $"DELETE FROM {table} WHERE id BETWEEN 100 AND 199; UPDATE {table} SET note = 'after the stop' WHERE id BETWEEN 200 AND 299;");
            var second = StartRun(file);
            await second.WaitForAsync("streaming changes from");
            await WaitEqualAsync(source, target, table);

            // One source transaction of 10,000 rows, more than a DSQL transaction may hold, then a column added
            // mid-stream and used at once.
            await LogicalSourceFixture.ExecuteAsync(source, $"INSERT INTO {table} SELECT g, 3, 'bulk ' || g FROM generate_series(200000, 209999) g");
            await WaitEqualAsync(source, target, table);
            await LogicalSourceFixture.ExecuteAsync(source, $"ALTER TABLE {table} ADD COLUMN label varchar(20); UPDATE {table} SET label = 'L' || id WHERE id BETWEEN 300 AND 310;");
            string labels = $"SELECT count(label)::bigint, coalesce(sum(length(label)), 0)::bigint FROM {table}";
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                try
                {
                    if ((await ToolTestSource.TargetRowAsync(target, labels)).SequenceEqual(new object?[] { 11L, 44L })) break;
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedColumn)
                {
                    // not added yet
                }
                await Task.Delay(100);
            }
            Assert.Equal(new object?[] { 11L, 44L }, await ToolTestSource.TargetRowAsync(target, labels));
            Assert.Equal("character varying(20)", await BulkTestEmulator.ScalarAsync<string>(target,
                $"SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attname = 'label'"));

            // A poison change: a note over DSQL's 10 MiB per transaction. Under sink.poison-behavior stop (the default)
            // the run ends, naming the table, the change and its position.
            await LogicalSourceFixture.ExecuteAsync(source, $"INSERT INTO {table} VALUES (6000000, 1, repeat('p', 11 * 1024 * 1024))");
            Assert.Equal(1, await second.WaitExitAsync());
            Assert.Matches($@"stopped at Insert on public\.{table} \(change 0 of source transaction \d+ committed at [0-9A-F]+/[0-9A-F]+\): DSQL refused it \(54000\)", second.Output);
            Assert.Contains("--set sink.poison-behavior=dead-letter", second.Output, StringComparison.Ordinal);
            var named = System.Text.RegularExpressions.Regex.Match(second.Output, @"committed at ([0-9A-F]+)/([0-9A-F]+)\)");
            long poisonLsn = (long)((ulong.Parse(named.Groups[1].Value, System.Globalization.NumberStyles.HexNumber) << 32) | ulong.Parse(named.Groups[2].Value, System.Globalization.NumberStyles.HexNumber));
            Assert.Contains("resuming slot", second.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("rows loaded", second.Output, StringComparison.Ordinal);

            // The recovery the message gives: fix the row at the source, run once with dead-letter. The refused insert
            // is recorded with its position and reason, the fix and the changes after it are applied.
            await LogicalSourceFixture.ExecuteAsync(source, $"UPDATE {table} SET note = 'fixed' WHERE id = 6000000; DELETE FROM {table} WHERE id = 1000;");
            var third = StartRun(file, "--set", "sink.poison-behavior=dead-letter");
            await third.WaitForAsync("streaming changes from");
            await WaitEqualAsync(source, target, table);
            Assert.Equal(0, await third.StopAsync());
            string pipelineId = await PipelineNameAsync(file);
            // The same change the stop named: its position, table and kind, with DSQL's reason.
            Assert.Equal(new object?[] { 1L, "54000", $"public.{table}", "insert", true }, await ToolTestSource.TargetRowAsync(target,
                $"SELECT count(*)::bigint, min(sql_state), min(table_name), min(kind), bool_and(message LIKE '%transaction size limit 10mb exceeded%') FROM dsql_sync_dead_letters " +
                $"WHERE pipeline_id = '{pipelineId}' AND commit_lsn = {poisonLsn} AND change_index = 0"));
            var afterPoison = new RunningTool(["status", file], first.Hooks);
            Assert.Equal(0, await afterPoison.WaitExitAsync());
            Assert.Matches($@"dead letters: 1 change\(s\) in dsql_sync_dead_letters; the latest: insert on public\.{table}, change 0 of the source transaction committed at [0-9A-F]+/[0-9A-F]+, refused with 54000", afterPoison.Output);
            Assert.Contains("dead letters: none", status.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Run_refuses_a_bad_pipeline_file_a_generated_column_and_a_source_without_logical_decoding_naming_the_fix()
    {
        await emulator.DataSourceAsync(backend);
        string file = Path.Combine(Path.GetTempPath(), $"pipeline-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, PipelineYaml.Minimal(("source.decoding.plugin.name", "wal2json"), ("pipeline.schema.change.behavior", "ignore")));
        string replicaSource = await new ToolTestSource(backend).CreateDatabaseAsync("replica_source");
        string table = EmulatorConnections.UniqueName("plain");
        await new ToolTestSource(backend).ExecuteAsync(replicaSource, $"CREATE TABLE {table} (id int PRIMARY KEY)");
        string onReplica = await new ToolTestSource(backend).WritePipelineAsync(emulator.Harness!.Endpoint, replicaSource, table, "replica-" + Guid.NewGuid().ToString("N"));
        try
        {
            var bad = new RunningTool(["run", file], new SyncToolHooks());
            Assert.Equal(2, await bad.WaitExitAsync());
            Assert.Contains("source.decoding.plugin.name", bad.Output, StringComparison.Ordinal);
            Assert.Contains("pipeline.schema.change.behavior", bad.Output, StringComparison.Ordinal);

            // A generated column: the stream does not carry its values.
            string totals = EmulatorConnections.UniqueName("totals");
            string withGenerated = await logical.CreateDatabaseAsync($"CREATE TABLE {totals} (id int PRIMARY KEY, net int, gross int GENERATED ALWAYS AS (net * 2) STORED)");
            string generatedFile = await WritePipelineAsync(withGenerated, totals);
            var generated = StartRun(generatedFile);
            Assert.Equal(2, await generated.WaitExitAsync());
            File.Delete(generatedFile);
            Assert.Contains($"public.{totals}.gross is a generated column", generated.Output, StringComparison.Ordinal);

            // The emulator's backend runs with wal_level = replica.
            var replica = StartRun(onReplica);
            Assert.Equal(2, await replica.WaitExitAsync());
            Assert.Contains("wal_level", replica.Output, StringComparison.Ordinal);
            Assert.Contains("logical", replica.Output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
            File.Delete(onReplica);
        }
    }

    [Fact]
    public async Task Ctrl_C_in_the_full_load_exits_130_a_second_run_is_refused_and_ten_kills_with_one_to_three_lanes_under_continuous_writes_lose_and_double_nothing()
    {
        var target = await emulator.DataSourceAsync(backend);
        string table = EmulatorConnections.UniqueName("moves");
        string source = await logical.CreateDatabaseAsync($"""
            CREATE TABLE {table} (id int PRIMARY KEY, qty int NOT NULL, note text);
            INSERT INTO {table} SELECT g, g % 10, 'row ' || g FROM generate_series(1, 3000) g;
            """);
        string file = await WritePipelineAsync(source, table);
        using var stopWriting = new CancellationTokenSource();
        var writer = Task.Run(() => WriteMixedAsync(source, table, stopWriting.Token));
        var random = new Random(20261128);
        var log = new System.Text.StringBuilder();
        try
        {
            // Ctrl+C during the full load (chunks of one row in one worker: a load slow enough to interrupt on purpose).
            // The signal is SIGTERM, handled as SIGINT is: under ./build.sh test this test host runs in the background,
            // where its children inherit SIGINT ignored.
            using (var interrupted = ToolProcess.Start("interrupted", "run", file, "--set", "sink.chunk.max-rows=1", "--set", "pipeline.parallelism=1"))
            {
                await interrupted.WaitForOutputAsync("plan: ", TimeSpan.FromSeconds(60));

                // A second run of the pipeline meanwhile (the slot is not in use during the load): refused at once,
                // naming the first; nothing touched.
                var second = StartRun(file);
                Assert.Equal(2, await second.WaitExitAsync());
                Assert.Contains($"is already running in dsql-sync run pid {interrupted.Id} on ", second.Output, StringComparison.Ordinal);
                Assert.Matches(@"\(source server process \d+, connected from ", second.Output);

                interrupted.Terminate();
                Assert.Equal(130, await interrupted.WaitAsync(TimeSpan.FromSeconds(30)));
                Assert.DoesNotContain("streaming changes from", interrupted.Output, StringComparison.Ordinal);
                Assert.Matches(@"interrupted during the full load from slot dsql_sync_run_\w+'s snapshot: this process had loaded [0-9,]+ row\(s\)", interrupted.Output);
                Assert.Contains("the next dsql-sync run of this file deletes the rows loaded, makes the slot again and loads from the start", interrupted.Output, StringComparison.Ordinal);
                log.Append(System.Globalization.CultureInfo.InvariantCulture, $"--- interrupted\n{interrupted.Output}");
            }

            // The first restart does what that message says (unless it is killed before), then the kills.
            for (int cycle = 0; cycle < 10; cycle++)
            {
                // Each run with 1 to 3 apply lanes: the lanes' positions of one run are read by a run with another number.
                int lanes = random.Next(1, 4);
                using var tool = ToolProcess.Start($"run {cycle}", "run", file, "--set", $"sink.parallelism={lanes}");
                log.Append(System.Globalization.CultureInfo.InvariantCulture, $"--- cycle {cycle}: {lanes} lanes\n");
                // Anywhere from the slot's creation and the full load to well into the stream.
                await Task.Delay(random.Next(200, 2500));
                tool.Kill();
                log.Append(tool.Output);
                if (cycle == 0 && tool.Output.Contains("source: created slot", StringComparison.Ordinal))
                    Assert.Contains("did not finish and its snapshot is gone", tool.Output, StringComparison.Ordinal);
            }
            await stopWriting.CancelAsync();
            int transactions = await writer;
            Assert.True(transactions > 50, $"only {transactions} source transactions were written");

            var last = StartRun(file);
            await last.WaitForAsync("streaming changes from");
            // Another run while this one streams: refused too, naming this process.
            var other = StartRun(file);
            Assert.Equal(2, await other.WaitExitAsync());
            Assert.Contains($"is already running in dsql-sync run pid {Environment.ProcessId} on ", other.Output, StringComparison.Ordinal);
            await WaitEqualAsync(source, target, table, log);
            Assert.Equal(0, await last.StopAsync());
        }
        finally
        {
            await stopWriting.CancelAsync();
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_partitioned_source_table_is_loaded_and_streamed_under_its_root_and_a_publication_without_the_root_is_refused_naming_the_fix()
    {
        var target = await emulator.DataSourceAsync(backend);
        string table = EmulatorConnections.UniqueName("parted");
        string source = await logical.CreateDatabaseAsync($"""
            CREATE TABLE {table} (id int PRIMARY KEY, qty int NOT NULL, note text) PARTITION BY RANGE (id);
            CREATE TABLE {table}_low PARTITION OF {table} FOR VALUES FROM (MINVALUE) TO (1000);
            CREATE TABLE {table}_high PARTITION OF {table} FOR VALUES FROM (1000) TO (MAXVALUE);
            INSERT INTO {table} SELECT g, g % 10, 'row ' || g FROM generate_series(1, 2000) g;
            """);
        string file = await WritePipelineAsync(source, table);
        try
        {
            // A publication made beforehand without publish_via_partition_root: its changes would carry the partitions' names.
            string pipelineName = await PipelineNameAsync(file);
            string publication = Tool.PipelineLoad.DefaultSlotName(pipelineName);
            await LogicalSourceFixture.ExecuteAsync(source, $"CREATE PUBLICATION {publication} FOR TABLE {table}");
            var refused = StartRun(file);
            Assert.Equal(2, await refused.WaitExitAsync());
            Assert.Contains($"public.{table} is partitioned", refused.Output, StringComparison.Ordinal);
            Assert.Contains($"ALTER PUBLICATION \"{publication}\" SET (publish_via_partition_root = true)", refused.Output, StringComparison.Ordinal);

            // Without it, dsql-sync creates the publication through the root: one DSQL table, loaded and kept in step,
            // rows moving between partitions included.
            await LogicalSourceFixture.ExecuteAsync(source, $"DROP PUBLICATION {publication}");
            var run = StartRun(file);
            await run.WaitForAsync("streaming changes from");
            await LogicalSourceFixture.ExecuteAsync(source, $"""
                BEGIN;
                INSERT INTO {table} VALUES (0, 1, 'low'), (50000, 2, 'high');
                UPDATE {table} SET qty = qty + 100 WHERE id BETWEEN 990 AND 1010;
                UPDATE {table} SET id = id + 2000 WHERE id BETWEEN 10 AND 20;
                DELETE FROM {table} WHERE id BETWEEN 1500 AND 1600;
                COMMIT;
                """);
            await WaitEqualAsync(source, target, table);
            Assert.Equal(0, await run.StopAsync());
            Assert.True(await LogicalSourceScalarAsync<bool>(source, $"SELECT pubviaroot FROM pg_publication WHERE pubname = '{publication}'"));
            Assert.Equal(0L, await BulkTestEmulator.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_class WHERE relname LIKE '{table}\\_%' AND relkind = 'r'"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<string> PipelineNameAsync(string file)
        => Assert.Single(await File.ReadAllLinesAsync(file), l => l.Trim().StartsWith("name: ", StringComparison.Ordinal)).Trim()["name: ".Length..];

    private static async Task<T> LogicalSourceScalarAsync<T>(string source, string sql)
    {
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Inserts, updates, key updates and deletes in transactions of a few statements, until stopped; returns the transactions.</summary>
    private static async Task<int> WriteMixedAsync(string source, string table, CancellationToken stop)
    {
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync();
        int n = 0;
        while (!stop.IsCancellationRequested)
        {
            int id = 10_000 + n;
            await using var batch = new NpgsqlCommand($"""
                BEGIN;
                INSERT INTO {table} VALUES ({id}, {n % 7}, 'inserted {n}');
                UPDATE {table} SET qty = qty + 1, note = 'updated {n}' WHERE id = {n % 3000 + 1};
                UPDATE {table} SET id = id + 1000000 WHERE id = {10_000 + n / 2} AND {n % 5} = 0;
                DELETE FROM {table} WHERE id = {(n * 7) % 3000 + 1} AND {n % 3} = 0;
                COMMIT;
                """, connection);
            await batch.ExecuteNonQueryAsync(CancellationToken.None);
            n++;
            try
            {
                await Task.Delay(10, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return n;
    }

    private static async Task<int> WriteContinuouslyAsync(string source, string table, int firstId, CancellationToken stop)
    {
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync();
        int id = firstId;
        while (!stop.IsCancellationRequested)
        {
            await using var insert = new NpgsqlCommand($"INSERT INTO {table} VALUES ({id}, 7, 'written during the load'); UPDATE {table} SET qty = qty + 1 WHERE id = {id % 2000 + 1}", connection);
            await insert.ExecuteNonQueryAsync();
            id++;
            await Task.Delay(5);
        }
        return id - firstId;
    }

    private async Task WaitEqualAsync(string source, DsqlDataSource target, string table, System.Text.StringBuilder? log = null)
    {
        string sql = string.Format(System.Globalization.CultureInfo.InvariantCulture, Checksum, table);
        var clock = Stopwatch.StartNew();
        object?[] expected, actual = [];
        await using (var connection = new NpgsqlConnection(source))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            expected = new object?[reader.FieldCount];
            reader.GetValues(expected!);
        }
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                actual = await ToolTestSource.TargetRowAsync(target, sql);
                if (expected.SequenceEqual(actual)) return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                // not created yet
            }
            await Task.Delay(100);
        }
        Assert.True(expected.SequenceEqual(actual), $"source {string.Join("/", expected)} target {string.Join("/", actual)}\n{log}");
    }

    private Task<string> WritePipelineAsync(string source, string table)
        => ToolTestSource.WritePipelineAsync(new NpgsqlConnectionStringBuilder(source), emulator.Harness!.Endpoint, table, $"run-{Guid.NewGuid():N}");

    private RunningTool StartRun(string file, params string[] options)
    {
        var clock = emulator.Harness!.Emulator.Clock;
        var hooks = new SyncToolHooks
        {
            ConfigureSink = builder =>
            {
                builder.UseCredentials(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret));
                builder.UseTimeProvider(clock);
            },
        };
        return new RunningTool(["run", file, .. options], hooks);
    }

    /// <summary>The tool's entry point running in the background, its output captured, stopped as Ctrl+C stops it.</summary>
    private sealed class RunningTool
    {
        private readonly StringWriter _output = new();
        private readonly TextWriter _synchronized;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<int> _run;

        public RunningTool(string[] args, SyncToolHooks hooks)
        {
            Hooks = hooks;
            _synchronized = TextWriter.Synchronized(_output);
            _run = Task.Run(() => SyncTool.RunAsync(args, _synchronized, _synchronized, hooks, _stop.Token));
        }

        public string Output
        {
            get { lock (_synchronized) return _output.ToString(); }
        }

        public async Task WaitForAsync(string text)
        {
            var clock = Stopwatch.StartNew();
            while (!Output.Contains(text, StringComparison.Ordinal))
            {
                if (_run.IsCompleted) Assert.Fail($"the tool ended ({await _run}) before printing '{text}':\n{Output}");
                if (clock.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"no '{text}' within 60 s:\n{Output}");
                await Task.Delay(20);
            }
        }

        public SyncToolHooks Hooks { get; }

        public Task<int> WaitExitAsync() => _run.WaitAsync(TimeSpan.FromSeconds(60));

        public async Task<int> StopAsync()
        {
            await _stop.CancelAsync();
            return await _run.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }
}
