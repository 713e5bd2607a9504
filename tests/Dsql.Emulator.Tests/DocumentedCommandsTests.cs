using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace Dsql.Emulator.Tests;

/// <summary>
/// Every emulator command in the fenced bash blocks of README.md and docs/*.md runs as written, in order, from the
/// repository root with only the .NET SDK: <c>dotnet run</c> of the tool, packing the library and the tool into
/// <c>artifacts/packages</c>, <c>dotnet tool install --global</c> from there and the installed <c>dsql-emulator</c>.
/// A command that starts the emulator must print <c>ready</c>; then a client connects through it with Npgsql and
/// with the printed <c>psql</c> line, and SIGTERM stops it.
/// </summary>
/// <remarks>
/// Run from the repository as a user would (on CI that is a fresh clone after <c>./build.sh test</c> built the
/// solution in Release, so <c>dotnet run -c Release</c> and packing reuse that build). The class sits in a collection of its own that runs after the parallel tests and alone.
/// Global tools go to a temporary <c>DOTNET_CLI_HOME</c>, so the user's own tools are left alone.
/// </remarks>
[Collection(DocumentedCommandsCollection.Name)]
public sealed class DocumentedCommandsTests(ITestOutputHelper log)
{
    private static readonly TimeSpan CommandLimit = TimeSpan.FromMinutes(5);
    private static readonly string[] Documents = ["README.md", "docs"];

    [Fact]
    public void The_documentation_names_the_tool_and_no_stale_emulator_command()
    {
        var commands = DocumentedCommands();
        Assert.Contains("dotnet run --project src/Dsql.Emulator.Tool -c Release -- --help", commands);
        Assert.Contains("dotnet run --project src/Dsql.Emulator.Tool -c Release", commands);
        Assert.Contains("dotnet tool install --global --add-source artifacts/packages Dsql.Emulator.Tool", commands);
        Assert.Contains("dsql-emulator --help", commands);
        foreach (string file in DocumentFiles().Append(Path.Combine(RepositoryRoot, "samples", "AspNetCore", "README.md")))
        {
            string text = File.ReadAllText(file);
            Assert.False(Regex.IsMatch(text, @"--project src/Dsql\.Emulator(?![.\w])"), $"{file} still runs the library project src/Dsql.Emulator");
        }
    }

    [Fact]
    public async Task Every_documented_emulator_command_runs_as_written_from_the_repository_root()
    {
        var commands = DocumentedCommands();
        // dotnet run and dotnet pack build src/*; the connector's package tests may be doing so in another process.
        using var buildLock = await RepositoryBuildLock.AcquireAsync(RepositoryRoot, TimeSpan.FromMinutes(10));
        string sandbox = Directory.CreateTempSubdirectory("dsql-emulator-docs-").FullName;
        try
        {
            var environment = UserEnvironment(sandbox);
            int servers = 0;
            foreach (string command in commands)
            {
                var clock = Stopwatch.StartNew();
                using var process = Start(command, RepositoryRoot, environment);
                var output = new OutputCollector(process);
                var ready = await output.ReadyOrExitAsync(CommandLimit);
                if (ready is null)
                {
                    Assert.True(process.ExitCode == 0, $"'{command}' exited {process.ExitCode}:\n{output.All()}");
                    if (command.EndsWith("--help", StringComparison.Ordinal))
                        Assert.Contains(DsqlEmulatorOptions.ExampleSecretAccessKey, output.Stdout());
                    log.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {command}");
                    continue;
                }

                servers++;
                try
                {
                    await ConnectThroughAsync(command, output.StdoutLines(), environment);
                }
                finally
                {
                    await StopGroupAsync(process);
                }
                Assert.True(process.ExitCode == 0, $"'{command}' exited {process.ExitCode} after SIGTERM:\n{output.All()}");
                Assert.Contains("stopping", output.StdoutLines());
                log.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {command} (ready, connected, stopped)");
            }
            Assert.True(servers >= 2, $"expected the documentation to start the emulator with dotnet run and as an installed tool; started {servers} time(s)");
        }
        finally
        {
            Directory.Delete(sandbox, recursive: true);
        }
    }

    /// <summary>Connects with Npgsql (a token signed by the AWS SDK with the example key) and with the printed psql line.</summary>
    private static async Task ConnectThroughAsync(string command, IReadOnlyList<string> stdout, IReadOnlyDictionary<string, string?> environment)
    {
        string ready = stdout[^1];
        Assert.StartsWith("ready 127.0.0.1:", ready);
        int port = int.Parse(ready[(ready.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        string connector = Assert.Single(stdout, line => line.StartsWith("connector ", StringComparison.Ordinal));
        string ca = Assert.Single(stdout, line => line.StartsWith("ca ", StringComparison.Ordinal))["ca ".Length..];
        Assert.Contains($"Port={port};", connector);

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Database = "postgres",
            Username = "admin",
            Password = TestTokens.Sign(EmulatorEndpoint.DefaultHost, "us-east-1", "admin", DateTimeOffset.UtcNow),
            SslMode = SslMode.VerifyFull,
            SslNegotiation = SslNegotiation.Direct,
            RootCertificate = ca,
            Pooling = false,
        };
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync();
            await using var select = new NpgsqlCommand("SELECT 41 + 1", connection);
            Assert.Equal(42, (int)(await select.ExecuteScalarAsync())!);
        }

        string psql = Assert.Single(stdout, line => line.StartsWith("psql ", StringComparison.Ordinal))["psql ".Length..];
        if (FindOnPath("psql") is null) return; // the PostgreSQL client comes with the server package; without it only Npgsql is checked
        using var process = Start(psql + " -tAc 'SELECT 6 * 7'", RepositoryRoot, environment);
        var output = new OutputCollector(process);
        Assert.Null(await output.ReadyOrExitAsync(CommandLimit));
        Assert.True(process.ExitCode == 0, $"the psql line printed by '{command}' exited {process.ExitCode}:\n{output.All()}");
        Assert.Equal("42", output.Stdout().Trim());
    }

    // ------------------------------------------------------------------ the documentation

    private static IEnumerable<string> DocumentFiles()
    {
        foreach (string document in Documents)
        {
            string path = Path.Combine(RepositoryRoot, document);
            if (File.Exists(path)) yield return path;
            else foreach (string file in Directory.GetFiles(path, "*.md").Order(StringComparer.Ordinal)) yield return file;
        }
    }

    /// <summary>The command lines of ```bash blocks that run the emulator, in document order, without comments; duplicates once.</summary>
    private static List<string> DocumentedCommands()
    {
        var commands = new List<string>();
        foreach (string file in DocumentFiles())
        {
            bool inBash = false;
            var pending = new StringBuilder();
            foreach (string raw in File.ReadLines(file))
            {
                if (raw.TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    inBash = !inBash && raw.Trim() == "```bash";
                    continue;
                }
                if (!inBash) continue;
                string line = raw.Trim();
                int comment = line.IndexOf(" #", StringComparison.Ordinal);
                if (line.StartsWith('#')) continue;
                if (comment >= 0) line = line[..comment].TrimEnd();
                if (line.EndsWith('\\'))
                {
                    pending.Append(line[..^1]).Append(' ');
                    continue;
                }
                string command = (pending + line).Trim();
                pending.Clear();
                if (command.Length == 0) continue;
                if ((command.Contains("dsql-emulator", StringComparison.Ordinal) || command.Contains("Dsql.Emulator", StringComparison.Ordinal)) && !commands.Contains(command))
                    commands.Add(command);
            }
        }
        return commands;
    }

    // ------------------------------------------------------------------ the sandbox

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Dsql.Connector.sln"))) return directory.FullName;
        throw new InvalidOperationException($"The repository root (Dsql.Connector.sln) was not found above {AppContext.BaseDirectory}.");
    });

    private static string RepositoryRoot => Root.Value;

    /// <summary>
    /// A user's shell: none of the test host's variables (MSBuild, VSTest, the emulator's secrets), global tools
    /// under <paramref name="sandbox"/> (on PATH), NuGet's package cache as configured.
    /// </summary>
    private static Dictionary<string, string?> UserEnvironment(string sandbox)
    {
        string cliHome = Path.Combine(sandbox, "home");
        Directory.CreateDirectory(cliHome);
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : FindOnPath("dotnet") ?? "dotnet";
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["DOTNET_CLI_HOME"] = cliHome,
            ["NUGET_PACKAGES"] = packages,
            ["PATH"] = string.Join(Path.PathSeparator, Path.Combine(cliHome, ".dotnet", "tools"), Path.GetDirectoryName(Path.GetFullPath(dotnet)), Environment.GetEnvironmentVariable("PATH")),
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            ["MSBUILDTERMINALLOGGER"] = "off",
        };
        foreach (var name in Environment.GetEnvironmentVariables().Keys.Cast<string>())
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)
                || name is "DOTNET_HOST_PATH" or "DOTNET_CLI_HOME" or "DSQL_EMULATOR_SECRET_KEY" or "DSQL_EMULATOR_SESSION_TOKEN")
                environment.TryAdd(name, null);
        return environment;
    }

    /// <summary>Runs a command line through bash in a process group of its own (setsid), so that SIGTERM reaches <c>dotnet run</c>'s child too.</summary>
    private static Process Start(string command, string directory, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = directory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string argument in (string[])["bash", "-c", command]) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start '{command}'");
        process.StandardInput.Close();
        return process;
    }

    private static async Task StopGroupAsync(Process process)
    {
        string group = "-" + process.Id.ToString(CultureInfo.InvariantCulture);
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", "--", group]) { UseShellExecute = false })!)
            await kill.WaitForExitAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(limit.Token);
            // dotnet run may return before its child has finished stopping: wait until the whole group is gone.
            while (GroupAlive(process.Id)) await Task.Delay(100, limit.Token);
        }
        catch (OperationCanceledException)
        {
            using var forced = Process.Start(new ProcessStartInfo("kill", ["-KILL", "--", group]) { UseShellExecute = false })!;
            await forced.WaitForExitAsync();
            throw new TimeoutException("the emulator did not stop within 30 s of SIGTERM");
        }
    }

    private static bool GroupAlive(int group)
    {
        foreach (string stat in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(stat), out _)) continue;
            try
            {
                string text = File.ReadAllText(Path.Combine(stat, "stat"));
                string[] fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 2 && fields[2] == group.ToString(CultureInfo.InvariantCulture)) return true; // field 5 of stat: process group
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return false;
    }

    private static string? FindOnPath(string program)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (directory.Length == 0) continue;
            string candidate = Path.Combine(directory, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Collects a process's output; tells when it printed "ready" or exited.</summary>
    private sealed class OutputCollector
    {
        private readonly Process _process;
        private readonly List<string> _stdout = [];
        private readonly StringBuilder _stderr = new();
        private readonly TaskCompletionSource<string?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public OutputCollector(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_stdout) _stdout.Add(e.Data);
                if (e.Data.StartsWith("ready ", StringComparison.Ordinal)) _ready.TrySetResult(e.Data);
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_stderr) _stderr.AppendLine(e.Data);
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        /// <summary>The "ready" line, or null when the process exited first (its output then complete).</summary>
        public async Task<string?> ReadyOrExitAsync(TimeSpan limit)
        {
            using var timeout = new CancellationTokenSource(limit);
            var exited = _process.WaitForExitAsync(timeout.Token);
            try
            {
                var first = await Task.WhenAny(_ready.Task, exited);
                if (first == _ready.Task) return await _ready.Task;
                await exited;
                _process.WaitForExit(); // drains the redirected output
                return _ready.Task.IsCompleted ? await _ready.Task : null;
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                throw new TimeoutException($"no 'ready' and no exit within {limit}:\n{All()}");
            }
        }

        public List<string> StdoutLines()
        {
            lock (_stdout) return [.. _stdout];
        }

        public string Stdout() => string.Join('\n', StdoutLines());

        public string All()
        {
            lock (_stderr) return Stdout() + "\n--- stderr ---\n" + _stderr;
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DocumentedCommandsCollection
{
    public const string Name = "documented commands";
}
