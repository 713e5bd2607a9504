using System.Diagnostics;
using System.Text;

namespace Dsql.Emulator.Backend;

/// <summary>Runs a helper program to completion, optionally as another system user (PostgreSQL refuses root).</summary>
internal static class ProcessRunner
{
    public static async Task<string> RunAsync(string fileName, IReadOnlyList<string> arguments, string? asUser, CancellationToken cancellationToken, bool throwOnFailure = true)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asUser is not null)
        {
            start.FileName = "runuser";
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add(asUser);
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(fileName);
        }
        else
        {
            start.FileName = fileName;
        }
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        using var process = new Process { StartInfo = start };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Could not run '{start.FileName}': {ex.Message}", ex);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw;
        }
        process.WaitForExit(); // drains the asynchronous output readers
        string text;
        lock (output) text = output.ToString();
        if (throwOnFailure && process.ExitCode != 0)
            throw new InvalidOperationException($"'{Path.GetFileName(fileName)} {string.Join(' ', arguments)}' failed with exit code {process.ExitCode}:{Environment.NewLine}{text.Trim()}");
        return text;
    }

    public static void RunBlocking(string fileName, IReadOnlyList<string> arguments, string? asUser, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            RunAsync(fileName, arguments, asUser, cts.Token, throwOnFailure: false).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
        {
            // Best effort: used only while the process exits.
        }
    }
}
