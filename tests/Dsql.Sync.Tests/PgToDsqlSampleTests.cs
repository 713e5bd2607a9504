using System.Text.RegularExpressions;
using Amazon.Runtime;
using Dsql.Emulator;
using Dsql.Sync.Tool;
using PgToDsql;

namespace Dsql.Sync.Tests;

/// <summary>
/// samples/PgToDsql: every command in the bash blocks of its README.md and of docs/cdc.md, run as written and in order:
/// the sample's <c>up</c> (a source with <c>wal_level = logical</c> and an emulator), <c>dsql-sync run</c> on the file it
/// writes, the sample's <c>write</c> while run streams (stopped as Ctrl+C stops it), <c>compare</c> (the target equals
/// the source) and <c>dsql-sync status</c>; then Ctrl+C for run and up.
/// </summary>
/// <remarks>
/// Each command runs in this process, as <c>dotnet run</c> would run it once built: the sample through
/// <see cref="SampleCommands.RunAsync"/>, dsql-sync through its entry point, with the AWS variables the command line
/// sets given as the sink's credentials. Relative paths are taken from a temporary directory standing for the
/// repository root, so the test never writes into the working tree.
/// </remarks>
public sealed partial class PgToDsqlSampleTests
{
    private static readonly string Root = RepositoryRoot();

    [Fact]
    public async Task The_sample_commands_load_stream_changes_while_the_source_is_written_and_leave_the_target_equal_to_the_source()
    {
        var commands = Commands(Path.Combine(Root, "samples", "PgToDsql", "README.md"));
        var documented = Commands(Path.Combine(Root, "docs", "cdc.md"));
        Assert.NotEmpty(documented);
        Assert.All(documented, command => Assert.Contains(command.Line, commands.Select(c => c.Line)));
        Assert.Equal(["up", "run", "write", "compare", "status"], commands.Select(c => c.Verb).ToArray());

        string root = Directory.CreateTempSubdirectory("pgtodsql-").FullName;
        var running = new List<Running>();
        var outputs = new Dictionary<string, string>();
        try
        {
            foreach (var command in commands)
            {
                var started = Start(command, root);
                switch (command.Verb)
                {
                    case "up":
                        await started.WaitForAsync("ready: ");
                        running.Add(started);
                        break;
                    case "run":
                        await started.WaitForAsync("streaming changes from");
                        running.Add(started);
                        break;
                    case "write":
                        // Writes while run streams, then Ctrl+C.
                        await started.WaitForAsync("source transactions so far");
                        Assert.Equal(0, await started.StopAsync());
                        Assert.Matches(@"stopped after [0-9,]+ source transactions\.", started.Output);
                        break;
                    default:
                        Assert.True(await started.ExitAsync() == 0, $"{command.Line} failed:\n{started.Output}");
                        outputs[command.Verb] = started.Output;
                        break;
                }
            }

            var (up, run) = (running[0], running[1]);
            Assert.Contains("equal: the target holds what the source holds.", outputs["compare"], StringComparison.Ordinal);
            Assert.Matches(@"orders: source (\d+) rows, .*; target \1 rows", outputs["compare"]);
            Assert.Contains("target: changes applied up to", outputs["status"], StringComparison.Ordinal);
            Assert.Contains("dead letters: none", outputs["status"], StringComparison.Ordinal);
            Assert.Contains("source: slot dsql_sync_shop in use", outputs["status"], StringComparison.Ordinal);
            Assert.Equal(0, await run.StopAsync());
            Assert.Contains("source: created slot dsql_sync_shop and publication dsql_sync_shop", run.Output, StringComparison.Ordinal);
            Assert.Contains("public.orders: 1,000 rows loaded", run.Output, StringComparison.Ordinal);
            Assert.Contains("stopped at ", run.Output, StringComparison.Ordinal);
            Assert.Equal(0, await up.StopAsync());
            Assert.False(File.Exists(Path.Combine(root, "samples", "PgToDsql", "pipeline.local.yaml")));
        }
        finally
        {
            foreach (var process in running) await process.StopAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed record Command(string Line, string Project, string[] Arguments, IReadOnlyDictionary<string, string> Environment)
    {
        public string Verb => Arguments[0];
    }

    /// <summary>The sample's and dsql-sync's commands in the bash blocks of <paramref name="file"/>, in order.</summary>
    private static List<Command> Commands(string file)
    {
        var commands = new List<Command>();
        bool inBash = false;
        foreach (string raw in File.ReadLines(file))
        {
            string line = raw.Trim();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inBash = !inBash && line == "```bash";
                continue;
            }
            if (!inBash || line.Length == 0 || line.StartsWith('#')) continue;
            if (!line.Contains("samples/PgToDsql", StringComparison.Ordinal)) continue;
            var match = CommandPattern().Match(line);
            Assert.True(match.Success, $"{file}: not a command this test knows how to run: {line}");
            var environment = match.Groups["env"].Captures.ToDictionary(c => c.Value[..c.Value.IndexOf('=', StringComparison.Ordinal)], c => c.Value[(c.Value.IndexOf('=', StringComparison.Ordinal) + 1)..].TrimEnd());
            commands.Add(new Command(line, match.Groups["project"].Value, match.Groups["args"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries), environment));
        }
        return commands;
    }

    [GeneratedRegex(@"^(?<env>[A-Z_]+=\S+ )*dotnet run --project (?<project>samples/PgToDsql|src/Dsql\.Sync\.Tool) -c Release -- (?<args>[^#]+?)\s*(#.*)?$")]
    private static partial Regex CommandPattern();

    private static Running Start(Command command, string root)
    {
        if (command.Project == "samples/PgToDsql")
        {
            Assert.Empty(command.Environment);
            return new Running((output, stop) => SampleCommands.RunAsync(command.Arguments, output, stop, root));
        }
        // dsql-sync: the sink's credentials are the AWS variables the line sets, AWS's documented example key.
        Assert.Equal(DsqlEmulatorOptions.ExampleAccessKeyId, command.Environment["AWS_ACCESS_KEY_ID"]);
        Assert.Equal(DsqlEmulatorOptions.ExampleSecretAccessKey, command.Environment["AWS_SECRET_ACCESS_KEY"]);
        var hooks = new SyncToolHooks
        {
            ConfigureSink = builder => builder.UseCredentials(new BasicAWSCredentials(command.Environment["AWS_ACCESS_KEY_ID"], command.Environment["AWS_SECRET_ACCESS_KEY"])),
        };
        string[] arguments = command.Arguments.Select(a => a.StartsWith("samples/", StringComparison.Ordinal) ? Path.Combine(root, a) : a).ToArray();
        return new Running((output, stop) => SyncTool.RunAsync(arguments, output, output, hooks, stop));
    }

    /// <summary>A command running in the background, its output captured, stopped as Ctrl+C stops it.</summary>
    private sealed class Running
    {
        private readonly StringWriter _output = new();
        private readonly TextWriter _synchronized;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<int> _run;

        public Running(Func<TextWriter, CancellationToken, Task<int>> run)
        {
            _synchronized = TextWriter.Synchronized(_output);
            _run = Task.Run(() => run(_synchronized, _stop.Token));
        }

        public string Output
        {
            get { lock (_synchronized) return _output.ToString(); }
        }

        public async Task WaitForAsync(string text)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!Output.Contains(text, StringComparison.Ordinal))
            {
                if (_run.IsCompleted) Assert.Fail($"the command ended ({await _run}) before printing '{text}':\n{Output}");
                if (clock.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"no '{text}' within 60 s:\n{Output}");
                await Task.Delay(20);
            }
        }

        public Task<int> ExitAsync() => _run.WaitAsync(TimeSpan.FromSeconds(60));

        public async Task<int> StopAsync()
        {
            await _stop.CancelAsync();
            return await _run.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Dsql.Connector.sln"))) return directory.FullName;
        throw new InvalidOperationException($"The repository root (Dsql.Connector.sln) was not found above {AppContext.BaseDirectory}.");
    }
}
