using System.Globalization;

namespace Dsql.Sync.Tool.Jobs;

/// <summary>How this process takes part in a load job: its name, its lease, the size of a slice.</summary>
internal sealed record LoadSettings(string? Worker, int LeaseSeconds, long SlicePages)
{
    /// <summary>
    /// 30 seconds: a worker renews every tenth of it, so a few seconds of network trouble do not lose a lease, and a
    /// killed worker's slices wait half a minute before another process takes them.
    /// </summary>
    public const int DefaultLeaseSeconds = 30;

    /// <summary>1,024 pages of 8 KiB: about 8 MiB of source table, tens of thousands of rows, a few seconds of work.</summary>
    public const long DefaultSlicePages = 1024;

    /// <summary>This process's name in the job table: <c>--worker</c>, or host name and process id.</summary>
    public string ProcessName { get; } = string.IsNullOrWhiteSpace(Worker)
        ? Environment.MachineName + ":" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture)
        : Worker.Trim();

    /// <summary>What is wrong with the command-line values, naming the option, or null.</summary>
    public string? Problem()
        => LeaseSeconds is < 2 or > 3600 ? $"--lease is {LeaseSeconds}: give 2 to 3600 seconds (the time a killed worker's steps wait before another process takes them)."
        : SlicePages < 1 ? $"--slice-pages is {SlicePages}: give at least 1 page."
        : Worker is not null && (string.IsNullOrWhiteSpace(Worker) || Worker.Length > 200) ? "--worker must be 1 to 200 characters that are not all blank."
        : null;
}
