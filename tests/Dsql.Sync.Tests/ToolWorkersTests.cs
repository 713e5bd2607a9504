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
            var victim = ToolProcess.Start(file, "w0", options);
            workers.Add(victim);
            await victim.WaitForOutputAsync("joins", TimeSpan.FromSeconds(60));
            for (int i = 1; i < 3; i++) workers.Add(ToolProcess.Start(file, $"w{i}", options));

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

    /// <summary>The built dsql-sync tool running as its own process, credentials in its environment as a user's would be.</summary>
    private sealed class ToolProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        private ToolProcess(string name, Process process)
        {
            Name = name;
            _process = process;
        }

        public string Name { get; }

        public bool HasExited => _process.HasExited;

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public static ToolProcess Start(string file, string name, params string[] options)
        {
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Dsql.Sync.Tool.dll"));
            foreach (string argument in new[] { "load", file, "--worker", name }.Concat(options)) start.ArgumentList.Add(argument);
            foreach (string variable in new[] { "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE" }) start.Environment.Remove(variable);
            start.Environment["AWS_ACCESS_KEY_ID"] = TestTokens.AccessKeyId;
            start.Environment["AWS_SECRET_ACCESS_KEY"] = TestTokens.Secret;
            start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
            var tool = new ToolProcess(name, Process.Start(start)!);
            tool._process.OutputDataReceived += (_, e) => tool.Append(e.Data);
            tool._process.ErrorDataReceived += (_, e) => tool.Append(e.Data);
            tool._process.BeginOutputReadLine();
            tool._process.BeginErrorReadLine();
            return tool;
        }

        private void Append(string? line)
        {
            if (line is null) return;
            // Each line with its time since the start, for reading a failure.
            lock (_output) _output.Append(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds:0.00}] ").Append(line).Append('\n');
        }

        /// <summary>Waits until a line of the output contains <paramref name="text"/>.</summary>
        public async Task WaitForOutputAsync(string text, TimeSpan limit)
        {
            var clock = Stopwatch.StartNew();
            while (!Output.Contains(text, StringComparison.Ordinal))
            {
                if (_process.HasExited || clock.Elapsed > limit) throw new TimeoutException($"{Name} did not print '{text}':\n{Output}");
                await Task.Delay(20);
            }
        }

        /// <summary>SIGKILL: no chance to give its steps back.</summary>
        public void Kill() => _process.Kill();

        public async Task<int> WaitAsync(TimeSpan limit)
        {
            using var timeout = new CancellationTokenSource(limit);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                throw new TimeoutException($"{Name} did not finish within {limit.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s:\n{Output}");
            }
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.Dispose();
        }
    }
}
