using System.Globalization;
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

    /// <summary>The words of one limit; <c>{0}</c> stands for its value.</summary>
    private sealed record Words(Measure Measure, double Default, string Description, string What, string Advice);

    private const string StoreElsewhere =
        "Store large values elsewhere (for example in Amazon S3) and keep only a reference to them in the row.";

    private static readonly Dictionary<DsqlLimit, Words> Table = new()
    {
        [DsqlLimit.RowsPerTransaction] = new(Measure.Count, DsqlQuotas.MaxRowsPerTransaction,
            "{0} rows modified per transaction",
            "The transaction modified more than {0} rows, DSQL's limit per transaction.",
            "Write in batches of at most {0} rows, each in its own transaction."),
        [DsqlLimit.TransactionSize] = new(Measure.Bytes, DsqlQuotas.MaxBytesPerTransaction,
            "{0} of data modified per transaction",
            "The transaction modified more than {0} of data, DSQL's limit per write transaction.",
            "Write in batches that each modify less than {0}, each in its own transaction."),
        [DsqlLimit.TransactionAge] = new(Measure.Seconds, DsqlQuotas.MaxTransactionAge.TotalSeconds,
            "{0} per transaction",
            "The transaction ran longer than {0}, DSQL's limit per transaction, and DSQL ended it.",
            "Keep transactions short: split long work into several transactions that each finish well within {0}."),
        [DsqlLimit.OpenConnections] = new(Measure.Count, DsqlQuotas.MaxConnections,
            "{0} open connections per cluster",
            "DSQL refused the connection: the cluster already has {0} open connections, its limit.",
            "Lower Maximum Pool Size so that the pools of all application instances together stay under {0} " +
            "connections per cluster."),
        [DsqlLimit.QueryMemory] = new(Measure.Bytes, DsqlQuotas.MaxQueryMemoryBytes,
            "{0} of memory per query",
            "The query needed more than {0} of memory, DSQL's limit per query.",
            "Narrow the query: select fewer rows or columns, add a filter or an index so that it avoids large " +
            "sorts, hashes and aggregates, or paginate the results."),
        [DsqlLimit.RowSize] = new(Measure.Bytes, DsqlQuotas.MaxRowBytes,
            "{0} per row", "A row was larger than {0}, DSQL's maximum row size.", StoreElsewhere),
        [DsqlLimit.ColumnSize] = new(Measure.Bytes, DsqlQuotas.MaxColumnBytes,
            "{0} per column value", "A column value was larger than {0}, DSQL's maximum for a non-key column.", StoreElsewhere),
        [DsqlLimit.KeySize] = new(Measure.Bytes, DsqlQuotas.MaxKeyBytes,
            "{0} per key",
            "A key was larger than {0}, DSQL's maximum key size (primary keys and index keys).",
            "Use shorter keys: store large values elsewhere (for example in Amazon S3) and reference them, or key " +
            "on a generated id or a hash of the value."),
        [DsqlLimit.ColumnsPerTable] = new(Measure.Count, DsqlQuotas.MaxColumnsPerTable,
            "{0} columns per table",
            "The table would have more than {0} columns, DSQL's limit per table.",
            "Use fewer columns, or split the table into several tables that share a key."),
        [DsqlLimit.ColumnsPerIndex] = new(Measure.Count, DsqlQuotas.MaxColumnsPerIndex,
            "{0} columns per index",
            "The index would have more than {0} columns, DSQL's limit per index.",
            "Use at most {0} columns per index."),
    };

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

        if (!Table.TryGetValue(limit, out var words))
        {
            return new Text(
                "a DSQL quota (see the server's message)",
                "The statement ran into a DSQL limit.",
                "See DSQL's quotas and limits, and make the statement or the transaction smaller.");
        }

        var value = words.Measure switch
        {
            Measure.Count => Count(ParseCount(serverMessage) ?? (long)words.Default),
            Measure.Bytes => Size(ParseSize(serverMessage) ?? (long)words.Default),
            _ => Seconds(ParseSeconds(serverMessage) ?? words.Default),
        };
        return new Text(Fill(words.Description, value), Fill(words.What, value), Fill(words.Advice, value));
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
