using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>What the lab ran on, for the report's header.</summary>
internal static class Machine
{
    public static IReadOnlyList<KeyValuePair<string, string>> Describe() =>
    [
        new("cpu", $"{CpuModel()}, {Environment.ProcessorCount} logical cores"),
        new("memory", MemoryGiB()),
        new("os", RuntimeInformation.OSDescription),
        new(".NET", RuntimeInformation.FrameworkDescription),
        new("PostgreSQL", PostgresVersion()),
        new("commit", GitCommit()),
    ];

    private static string CpuModel()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string MemoryGiB()
    {
        long bytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return (bytes / (1024.0 * 1024 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";
    }

    private static string PostgresVersion()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } pgBin) candidates.Add(Path.Combine(pgBin, "postgres"));
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderDescending(StringComparer.Ordinal).Select(d => Path.Combine(d, "bin", "postgres")));
        }
        foreach (string candidate in candidates.Where(File.Exists))
        {
            string? output = Run(candidate, "--version");
            if (output is not null) return output;
        }
        return "unknown";
    }

    private static string GitCommit() => Run("git", "rev-parse --short HEAD") is { } commit ? commit + (Run("git", "status --porcelain --untracked-files=no") is { Length: > 0 } ? " (with uncommitted changes)" : "") : "unknown";

    private static string? Run(string program, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (process is null) return null;
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
