using System.Globalization;
using System.Resources;
using System.Text.RegularExpressions;

namespace Dsql.Connector;

/// <summary>
/// Words for <see cref="DsqlLimitExceededException"/>: the limit's value (read from the server's message when it
/// carries one, DSQL's published default from <see cref="DsqlQuotas"/> otherwise), what happened and what to do about it.
/// </summary>
internal static partial class DsqlLimitText
{
    private const long KiB = 1024;
    private const long MiB = 1024 * KiB;
    private const long GiB = 1024 * MiB;

    /// <summary>What the server said, turned into the exception's words.</summary>
    /// <param name="Description">The limit and its value, e.g. "3,000 rows modified per transaction".</param>
    /// <param name="What">What happened, one sentence.</param>
    /// <param name="Advice">What to do, one or two sentences.</param>
    internal readonly record struct Text(string Description, string What, string Advice);

    /// <summary>How a limit's value is measured, and so read from the server's message and written.</summary>
    private enum Measure
    {
        Count,
        Bytes,
        Seconds,
    }

    /// <summary>
    /// How each limit is measured and its published default. Its words (a description, what happened, what to do;
    /// <c>{0}</c> stands for the value) are in DsqlLimitText.resx under <c>Limit.Description</c>, <c>.What</c>, <c>.Advice</c>.
    /// </summary>
    private static readonly Dictionary<DsqlLimit, (Measure Measure, double Default)> Table = new()
    {
        [DsqlLimit.RowsPerTransaction] = (Measure.Count, DsqlQuotas.MaxRowsPerTransaction),
        [DsqlLimit.TransactionSize] = (Measure.Bytes, DsqlQuotas.MaxBytesPerTransaction),
        [DsqlLimit.TransactionAge] = (Measure.Seconds, DsqlQuotas.MaxTransactionAge.TotalSeconds),
        [DsqlLimit.OpenConnections] = (Measure.Count, DsqlQuotas.MaxConnections),
        [DsqlLimit.QueryMemory] = (Measure.Bytes, DsqlQuotas.MaxQueryMemoryBytes),
        [DsqlLimit.RowSize] = (Measure.Bytes, DsqlQuotas.MaxRowBytes),
        [DsqlLimit.ColumnSize] = (Measure.Bytes, DsqlQuotas.MaxColumnBytes),
        [DsqlLimit.KeySize] = (Measure.Bytes, DsqlQuotas.MaxKeyBytes),
        [DsqlLimit.ColumnsPerTable] = (Measure.Count, DsqlQuotas.MaxColumnsPerTable),
        [DsqlLimit.ColumnsPerIndex] = (Measure.Count, DsqlQuotas.MaxColumnsPerIndex),
    };

    private static readonly ResourceManager Words = new(typeof(DsqlLimitText).FullName!, typeof(DsqlLimitText).Assembly);

    private static string Word(DsqlLimit limit, string part)
        => Words.GetString(limit + "." + part, CultureInfo.InvariantCulture) ?? throw new InvalidOperationException($"DsqlLimitText.resx has no text '{limit}.{part}'.");

    internal static Text Describe(DsqlLimit limit, string serverMessage)
    {
        serverMessage ??= "";
        if (limit == DsqlLimit.ConnectionRate)
        {
            var rate = ParseCount(serverMessage) is { } perSecond
                ? $"{Count(perSecond)} new connections per second per cluster"
                : $"{Count((long)DsqlQuotas.ConnectionRatePerSecond)} new connections per second per cluster (burst {Count(DsqlQuotas.ConnectionBurst)})";
            return new Text(
                rate,
                $"DSQL refused the connection: the limit of {rate} was exceeded.",
                "The connector paces and retries connects; if this still surfaces, lower Connection Rate Per Second " +
                "or spread out the start-up of your application instances.");
        }

        if (!Table.TryGetValue(limit, out var measured))
        {
            return new Text(
                "a DSQL quota (see the server's message)",
                "The statement ran into a DSQL limit.",
                "See DSQL's quotas and limits, and make the statement or the transaction smaller.");
        }

        var value = measured.Measure switch
        {
            Measure.Count => Count(ParseCount(serverMessage) ?? (long)measured.Default),
            Measure.Bytes => Size(ParseSize(serverMessage) ?? (long)measured.Default),
            _ => Seconds(ParseSeconds(serverMessage) ?? measured.Default),
        };
        return new Text(Fill(Word(limit, "Description"), value), Fill(Word(limit, "What"), value), Fill(Word(limit, "Advice"), value));
    }

    private static string Fill(string template, string value) => template.Replace("{0}", value, StringComparison.Ordinal);

    /// <summary>A count after "limit (of)", "at most", "more than" or "maximum (of)", e.g. "at most 1600 columns".</summary>
    internal static long? ParseCount(string message)
    {
        var match = CountPattern().Match(message);
        return match.Success
               && long.TryParse(match.Groups["n"].Value.Replace(",", "", StringComparison.Ordinal), NumberStyles.None,
                   CultureInfo.InvariantCulture, out var value)
               && value > 0
            ? value
            : null;
    }

    /// <summary>A size with a unit, e.g. "10mb" or "2 MiB", in bytes (kb/mb/gb are read as binary units).</summary>
    internal static long? ParseSize(string message)
    {
        if (NumberWithUnit(SizePattern(), message) is not var (value, unit))
        {
            return null;
        }

        decimal multiplier = unit[0] switch
        {
            'k' => KiB,
            'm' => MiB,
            'g' => GiB,
            _ => 1,
        };
        var bytes = value * multiplier;
        return bytes < 1 || bytes > long.MaxValue ? null : (long)Math.Round(bytes);
    }

    /// <summary>A duration with a unit, e.g. "300s" or "5 minutes", in seconds.</summary>
    internal static double? ParseSeconds(string message)
    {
        if (NumberWithUnit(TimePattern(), message) is not var (value, unit))
        {
            return null;
        }

        return unit switch
        {
            "ms" or "millisecond" or "milliseconds" => (double)value / 1000,
            "min" or "mins" or "minute" or "minutes" => (double)value * 60,
            _ => (double)value,
        };
    }

    /// <summary>The positive number (group <c>n</c>) and lower-cased unit (group <c>u</c>) the pattern finds, or null.</summary>
    private static (decimal Value, string Unit)? NumberWithUnit(Regex pattern, string message)
    {
        var match = pattern.Match(message);
        return match.Success
               && decimal.TryParse(match.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
               && value > 0
            ? (value, match.Groups["u"].Value.ToLowerInvariant())
            : null;
    }

    internal static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    internal static string Size(long bytes)
    {
        var (divisor, unit) = bytes switch
        {
            >= GiB => (GiB, "GiB"),
            >= MiB => (MiB, "MiB"),
            >= KiB => (KiB, "KiB"),
            _ => (1L, "bytes"),
        };
        return ((decimal)bytes / divisor).ToString("#,##0.##", CultureInfo.InvariantCulture) + " " + unit;
    }

    internal static string Seconds(double seconds)
        => seconds.ToString("#,##0.###", CultureInfo.InvariantCulture) + " s";

    [GeneratedRegex(@"(?:\blimit(?:\s+of)?|\bat\s+most|\bmore\s+than|\bmaximum(?:\s+of)?)\s+(?<n>\d{1,3}(?:,\d{3})+|\d+)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CountPattern();

    [GeneratedRegex(@"(?<![\w.])(?<n>\d+(?:\.\d+)?)\s*(?<u>bytes|kib|kb|mib|mb|gib|gb)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"(?<![\w.])(?<n>\d+(?:\.\d+)?)\s*(?<u>milliseconds?|ms|seconds?|secs?|s|minutes?|mins?)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TimePattern();
}
