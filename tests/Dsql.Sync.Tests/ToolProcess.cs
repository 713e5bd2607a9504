using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Dsql.Emulator.Tests.Infrastructure;

namespace Dsql.Sync.Tests;

/// <summary>
/// The built dsql-sync tool running as its own process, as a user starts it, AWS credentials in its environment; its
/// output (both streams) captured line by line with the time since its start; killed with SIGKILL.
/// </summary>
internal sealed class ToolProcess : IDisposable
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

    public static ToolProcess Start(string name, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Dsql.Sync.Tool.dll"));
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
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

    /// <summary>The process's id (what the tool names in its source connections' application name).</summary>
    public int Id => _process.Id;

    /// <summary>
    /// SIGTERM, which the tool handles as it handles Ctrl+C (SIGINT). Tests that stop a tool this way send SIGTERM: a
    /// process started in the background of a non-interactive shell, as the test runs of <c>./build.sh test</c> are,
    /// inherits SIGINT ignored, and .NET keeps it ignored.
    /// </summary>
    public void Terminate()
    {
        if (kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed ({Marshal.GetLastPInvokeError()})");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>SIGKILL: no chance to give anything back or to finish a transaction.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
    }

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
        Kill();
        _process.Dispose();
    }
}
