using System.Globalization;
using Dsql.Emulator.Backend;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>
/// CPU time and memory of the processes a scenario starts, read from /proc (Linux): one process, a PostgreSQL cluster
/// (the postmaster and its children), and the whole machine. Zero or null elsewhere.
/// </summary>
internal static class ProcessStats
{
    private const double TicksPerSecond = 100; // USER_HZ: /proc reports CPU time in these units on Linux

    /// <summary>CPU time (user and system) a living process has used so far; zero when it cannot be read.</summary>
    public static TimeSpan ProcessCpu(int processId)
        => Stat(Path.Combine("/proc", processId.ToString(CultureInfo.InvariantCulture), "stat")) is { } stat
            ? TimeSpan.FromSeconds((stat.UserTicks + stat.SystemTicks) / TicksPerSecond)
            : TimeSpan.Zero;

    /// <summary>
    /// CPU time used so far by a PostgreSQL cluster: the postmaster's own and its reaped children's (utime, stime,
    /// cutime, cstime of /proc/&lt;pid&gt;/stat) plus every living child's (the backends, the wal senders, the writer,
    /// the checkpointer). A backend that exits moves from the second sum into the first, so the total only grows.
    /// </summary>
    public static TimeSpan ClusterCpu(int postmaster)
    {
        if (!OperatingSystem.IsLinux() || Stat($"/proc/{postmaster.ToString(CultureInfo.InvariantCulture)}/stat") is not { } main) return TimeSpan.Zero;
        long ticks = main.UserTicks + main.SystemTicks + main.ChildUserTicks + main.ChildSystemTicks;
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            string name = Path.GetFileName(directory);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            if (Stat(Path.Combine(directory, "stat")) is { } child && child.ParentId == postmaster) ticks += child.UserTicks + child.SystemTicks;
        }
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary>The process id of a cluster's postmaster (the first line of postmaster.pid).</summary>
    public static int Postmaster(PostgresCluster cluster)
        => int.Parse(File.ReadLines(Path.Combine(cluster.DataDirectory, "postmaster.pid")).First().Trim(), CultureInfo.InvariantCulture);

    /// <summary>
    /// The machine's CPU time so far over all its cores, from the first line of /proc/stat: busy (everything but idle
    /// and iowait) and total, in ticks; null when it cannot be read.
    /// </summary>
    public static (long Busy, long Total)? MachineTicks()
    {
        try
        {
            string? line = File.ReadLines("/proc/stat").FirstOrDefault();
            if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal)) return null;
            long[] fields = line[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
            long total = fields.Take(8).Sum();
            long idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            return (total - idle, total);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The resident set size (VmRSS) of a living process in bytes; null when it cannot be read.</summary>
    public static long? ResidentBytes(int processId) => StatusKilobytes(processId, "VmRSS:") * 1024;

    /// <summary>The peak resident set size (VmHWM) of a living process in bytes; null when it cannot be read.</summary>
    public static long? PeakResidentBytes(int processId) => StatusKilobytes(processId, "VmHWM:") * 1024;

    private static long? StatusKilobytes(int processId, string field)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return null;
    }

    private readonly record struct ProcStat(long ParentId, long UserTicks, long SystemTicks, long ChildUserTicks, long ChildSystemTicks);

    private static ProcStat? Stat(string path)
    {
        try
        {
            string text = File.ReadAllText(path);
            // Fields after the command name (which may hold spaces): state ppid ... utime(14) stime(15) cutime(16) cstime(17).
            string[] fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return new ProcStat(long.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[11], CultureInfo.InvariantCulture),
                long.Parse(fields[12], CultureInfo.InvariantCulture), long.Parse(fields[13], CultureInfo.InvariantCulture), long.Parse(fields[14], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
