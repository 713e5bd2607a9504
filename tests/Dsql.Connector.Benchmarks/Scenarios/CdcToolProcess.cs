using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dsql.Connector.Benchmarks.Lab;
using Dsql.Emulator;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// <c>dsql-sync run pipeline.yaml</c> as a child process: the built tool (Dsql.Sync.Tool.dll next to the lab) started
/// with <c>dotnet</c> as a user runs it, the emulator's example AWS credentials in its environment. Its status lines
/// ("applied N change(s) ...", printed once a second while changes arrive) are read with the lab's clock: the
/// applier's own count of the changes it committed, exact.
/// </summary>
internal sealed partial class CdcToolProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly Lock _gate = new();
    private readonly List<(double At, long Changes, long Transactions)> _applied = [];
    private readonly Queue<string> _tail = new();

    private CdcToolProcess(Process process, Stopwatch clock)
    {
        _process = process;
        _clock = clock;
    }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the tool on <paramref name="pipelineFile"/>; <paramref name="clock"/> is the scenario's.</summary>
    public static CdcToolProcess Start(string pipelineFile, Stopwatch clock)
    {
        string toolPath = Path.Combine(AppContext.BaseDirectory, "Dsql.Sync.Tool.dll");
        if (!File.Exists(toolPath)) throw new FileNotFoundException($"The dsql-sync tool was not found next to the lab at '{toolPath}'; build tests/Dsql.Connector.Benchmarks.", toolPath);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[toolPath, "run", pipelineFile]) start.ArgumentList.Add(argument);
        foreach (string variable in (string[])["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]) start.Environment.Remove(variable);
        start.Environment["AWS_ACCESS_KEY_ID"] = DsqlEmulatorOptions.ExampleAccessKeyId;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = DsqlEmulatorOptions.ExampleSecretAccessKey;
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the dsql-sync tool (dotnet).");
        var tool = new CdcToolProcess(process, clock);
        process.OutputDataReceived += (_, e) => tool.Received(e.Data);
        process.ErrorDataReceived += (_, e) => tool.Received(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return tool;
    }

    /// <summary>The last lines the tool printed, for an error message.</summary>
    public string Tail
    {
        get
        {
            lock (_gate) return string.Join('\n', _tail);
        }
    }

    /// <summary>Every status line so far: the lab's clock (seconds) when it was read, the changes applied and the DSQL transactions committed by then.</summary>
    public IReadOnlyList<(double At, long Changes, long Transactions)> Applied
    {
        get
        {
            lock (_gate) return _applied.ToArray();
        }
    }

    /// <summary>The changes the tool reported applied last (0 before its first status line).</summary>
    public long LastApplied
    {
        get
        {
            lock (_gate) return _applied.Count == 0 ? 0 : _applied[^1].Changes;
        }
    }

    private void Received(string? line)
    {
        if (line is null) return;
        double at = _clock.Elapsed.TotalSeconds;
        var match = StatusLine().Match(line);
        lock (_gate)
        {
            if (match.Success)
            {
                _applied.Add((at, long.Parse(match.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture),
                    long.Parse(match.Groups[2].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture)));
            }
            else
            {
                _tail.Enqueue(line);
                if (_tail.Count > 40) _tail.Dequeue();
            }
        }
    }

    /// <summary>Waits until the tool printed a line holding <paramref name="text"/>; throws with its output when it exits first or the time is up.</summary>
    public async Task WaitForAsync(string text, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lock (_gate)
            {
                if (_tail.Any(l => l.Contains(text, StringComparison.Ordinal))) return;
            }
            if (_process.HasExited) throw new InvalidOperationException($"dsql-sync run exited ({_process.ExitCode}) before printing '{text}':\n{Tail}");
            if (clock.Elapsed > limit) throw new TimeoutException($"dsql-sync run did not print '{text}' within {limit.TotalSeconds:0} s:\n{Tail}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGTERM, as Ctrl+C stops the tool (after the DSQL transaction in flight); its exit code, or null when it had to be killed after 30 s.</summary>
    public async Task<int?> StopAsync()
    {
        if (_process.HasExited) return _process.ExitCode;
        using (var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
        {
            if (term is not null) await term.WaitForExitAsync();
        }
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(grace.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [GeneratedRegex(@"^applied ([0-9,]+) change\(s\) in ([0-9,]+) transaction\(s\)", RegexOptions.CultureInvariant)]
    private static partial Regex StatusLine();

    /// <summary>The changes applied at the status line nearest to <paramref name="at"/> (lab clock), with that line's time.</summary>
    public static (double At, long Changes, long Transactions)? Nearest(IReadOnlyList<(double At, long Changes, long Transactions)> applied, double at)
        => applied.Count == 0 ? null : applied.MinBy(a => Math.Abs(a.At - at));

    /// <summary>The applied rate between the status lines nearest to two moments of the lab's clock: exact counts over the lines' own interval.</summary>
    public static double RateBetween(IReadOnlyList<(double At, long Changes, long Transactions)> applied, double from, double to)
    {
        var first = Nearest(applied, from);
        var last = Nearest(applied, to);
        if (first is null || last is null || last.Value.At <= first.Value.At) return double.NaN;
        return (last.Value.Changes - first.Value.Changes) / (last.Value.At - first.Value.At);
    }

    /// <summary>Changes per DSQL transaction between the status lines nearest to two moments (how full the applier's batches were).</summary>
    public static double ChangesPerTransaction(IReadOnlyList<(double At, long Changes, long Transactions)> applied, double from, double to)
    {
        var first = Nearest(applied, from);
        var last = Nearest(applied, to);
        if (first is null || last is null || last.Value.Transactions <= first.Value.Transactions) return double.NaN;
        return (double)(last.Value.Changes - first.Value.Changes) / (last.Value.Transactions - first.Value.Transactions);
    }
}
