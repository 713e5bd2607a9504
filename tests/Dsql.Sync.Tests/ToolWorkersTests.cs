using System.Diagnostics;
using System.Globalization;
using System.Text;
using Dsql.Connector;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary>
/// Several <c>dsql-sync load</c> processes (the built tool, started as a user starts it) on one pipeline: they share
/// the job through its table in the target, and one killed with SIGKILL in the middle of a slice loses nothing.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class ToolWorkersTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    private const int Orders = 60_000;
    private const int Notes = 9_000;

    [Fact]
    public async Task Three_processes_share_a_load_and_one_killed_mid_slice_is_taken_over_with_nothing_lost_or_doubled()
    {
        var target = await emulator.DataSourceAsync(backend);
        var sources = new ToolTestSource(backend);
        string database = await sources.CreateDatabaseAsync("workers_source");
        string orders = EmulatorConnections.UniqueName("orders"), notes = EmulatorConnections.UniqueName("notes");
        await sources.ExecuteAsync(database, $"""
            CREATE TABLE {orders} (id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2));
            INSERT INTO {orders} SELECT g, 'order number ' || g, g * 0.25 FROM generate_series(1, {Orders}) g;
            CREATE TABLE {notes} (id int, body text);
            INSERT INTO {notes} SELECT g % 100, 'a note without a key ' || g FROM generate_series(1, {Notes}) g;
            """);
        string job = "workers-" + Guid.NewGuid().ToString("N");
        string file = await sources.WritePipelineAsync(emulator.Harness!.Endpoint, database, $"{orders},{notes}", job, sinkParallelism: 1);
        var workers = new List<ToolProcess>();
        try
        {
            // Slices of 50 pages (about 4,500 rows of orders) in chunks of 100 rows: a worker is inside a slice most of
            // the time. w0 starts first, so that it certainly has work when the other two join.
            string[] options = ["--lease", "3", "--slice-pages", "50", "--set", "sink.chunk.max-rows=100"];
            var victim = ToolProcess.Start("w0", ["load", file, "--worker", "w0", .. options]);
            workers.Add(victim);
            await victim.WaitForOutputAsync("joins", TimeSpan.FromSeconds(60));
            for (int i = 1; i < 3; i++) workers.Add(ToolProcess.Start($"w{i}", ["load", file, "--worker", $"w{i}", .. options]));

            // Kill w0 once it holds a slice with a committed chunk and many more to write.
            string? held = null;
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (held is null)
                {
                    Assert.False(victim.HasExited, "w0 ended before it could be killed:\n" + victim.Output);
                    try
                    {
                        held = await HeldSliceWithCommittedChunkAsync(target, job);
                    }
                    catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
                    {
                        // The processes have not created the job's tables yet.
                    }
                    if (held is null) await Task.Delay(20, wait.Token);
                }
            }
            victim.Kill();

            foreach (var survivor in workers.Skip(1))
            {
                int code = await survivor.WaitAsync(TimeSpan.FromSeconds(120));
                Assert.True(code == 0, $"{survivor.Name} exited {code}:\n{survivor.Output}");
            }

            foreach (string table in new[] { orders, notes })
            {
                await using var source = await sources.OpenAsync(database);
                Assert.Equal(await ChecksumAsync(source, table), await target.ExecuteInTransactionAsync((c, _) => ChecksumAsync(c, table)));
            }
            Assert.Equal((long)Orders, await BulkTestEmulator.ScalarAsync<long>(target, $"SELECT count(DISTINCT id) FROM {orders}"));

            // The killed worker's slice was finished by another, which skipped the chunk w0 had committed.
            Assert.Equal(0L, await BulkTestEmulator.ScalarAsync<long>(target, $"SELECT count(*) FROM dsql_sync_jobs WHERE job_id = '{job}' AND state <> 'done'"));
            Assert.True(await BulkTestEmulator.ScalarAsync<int>(target, $"SELECT attempts FROM dsql_sync_jobs WHERE job_id = '{job}' AND step = '{held}'") >= 2);
            string survivors = string.Join("\n", workers.Skip(1).Select(w => w.Output));
            Assert.True(survivors.Contains($"{held}: taken over", StringComparison.Ordinal), survivors);
            Assert.Matches(@"skipped [1-9][0-9,]* already loaded", survivors);
        }
        finally
        {
            foreach (var worker in workers) worker.Dispose();
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Bad_worker_options_exit_2_naming_the_option()
    {
        foreach (var (option, value) in new[] { ("--lease", "1"), ("--slice-pages", "0"), ("--worker", " ") })
        {
            using var output = new StringWriter();
            using var error = new StringWriter();
            int code = await Tool.SyncTool.RunAsync(["load", "pipeline.yaml", option, value], output, error, new Tool.SyncToolHooks(), CancellationToken.None);

            Assert.Equal(2, code);
            Assert.Contains(option, error.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>A slice that a worker of w0 holds with 1 to 15 of its chunks committed (a slice of orders has about 45).</summary>
    private static Task<string?> HeldSliceWithCommittedChunkAsync(DsqlDataSource target, string job)
        => target.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var command = new NpgsqlCommand(
                "SELECT j.step FROM dsql_sync_jobs j JOIN dsql_sync_checkpoints c ON c.job_id = j.job_id || ':' || j.step " +
                "WHERE j.job_id = $1 AND j.state = 'running' AND j.owner LIKE 'w0/%' GROUP BY j.step HAVING count(*) BETWEEN 1 AND 15 LIMIT 1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = job });
            return (string?)await command.ExecuteScalarAsync(token);
        }, new DsqlTransactionOptions { ReadOnly = true });

    /// <summary>Row count and order-independent sums over every column: equal on both sides only when the same rows are there, each once.</summary>
    private static async Task<string> ChecksumAsync(NpgsqlConnection connection, string table)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT count(*)::text || '/' || coalesce(sum(id), 0)::text || '/' || coalesce(sum(hashtext(t::text)::bigint), 0)::text FROM {table} t", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
