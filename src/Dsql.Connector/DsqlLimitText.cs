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

    internal static Text Describe(DsqlLimit limit, string serverMessage)
    {
        serverMessage ??= "";
        switch (limit)
        {
            case DsqlLimit.RowsPerTransaction:
            {
                var rows = Count(ParseCount(serverMessage) ?? DsqlQuotas.MaxRowsPerTransaction);
                return new Text(
                    $"{rows} rows modified per transaction",
                    $"The transaction modified more than {rows} rows, DSQL's limit per transaction.",
                    $"Write in batches of at most {rows} rows, each in its own transaction.");
            }
            case DsqlLimit.TransactionSize:
            {
                var size = Size(ParseSize(serverMessage) ?? DsqlQuotas.MaxBytesPerTransaction);
                return new Text(
                    $"{size} of data modified per transaction",
                    $"The transaction modified more than {size} of data, DSQL's limit per write transaction.",
                    $"Write in batches that each modify less than {size}, each in its own transaction.");
            }
            case DsqlLimit.TransactionAge:
            {
                var age = Seconds(ParseSeconds(serverMessage) ?? DsqlQuotas.MaxTransactionAge.TotalSeconds);
                return new Text(
                    $"{age} per transaction",
                    $"The transaction ran longer than {age}, DSQL's limit per transaction, and DSQL ended it.",
                    $"Keep transactions short: split long work into several transactions that each finish well within {age}.");
            }
            case DsqlLimit.ConnectionRate:
            {
                var parsed = ParseCount(serverMessage);
                var rate = parsed is { } perSecond
                    ? $"{Count(perSecond)} new connections per second per cluster"
                    : $"{Count((long)DsqlQuotas.ConnectionRatePerSecond)} new connections per second per cluster (burst {Count(DsqlQuotas.ConnectionBurst)})";
                return new Text(
                    rate,
                    $"DSQL refused the connection: the limit of {rate} was exceeded.",
                    "The connector paces and retries connects; if this still surfaces, lower Connection Rate Per Second " +
                    "or spread out the start-up of your application instances.");
            }
            case DsqlLimit.OpenConnections:
            {
                var count = Count(ParseCount(serverMessage) ?? DsqlQuotas.MaxConnections);
                return new Text(
                    $"{count} open connections per cluster",
                    $"DSQL refused the connection: the cluster already has {count} open connections, its limit.",
                    $"Lower Maximum Pool Size so that the pools of all application instances together stay under {count} " +
                    "connections per cluster.");
            }
            case DsqlLimit.QueryMemory:
            {
                var size = Size(ParseSize(serverMessage) ?? DsqlQuotas.MaxQueryMemoryBytes);
                return new Text(
                    $"{size} of memory per query",
                    $"The query needed more than {size} of memory, DSQL's limit per query.",
                    "Narrow the query: select fewer rows or columns, add a filter or an index so that it avoids large " +
                    "sorts, hashes and aggregates, or paginate the results.");
            }
            case DsqlLimit.RowSize:
            {
                var size = Size(ParseSize(serverMessage) ?? DsqlQuotas.MaxRowBytes);
                return new Text(
                    $"{size} per row",
                    $"A row was larger than {size}, DSQL's maximum row size.",
                    "Store large values elsewhere (for example in Amazon S3) and keep only a reference to them in the row.");
            }
            case DsqlLimit.ColumnSize:
            {
                var size = Size(ParseSize(serverMessage) ?? DsqlQuotas.MaxColumnBytes);
                return new Text(
                    $"{size} per column value",
                    $"A column value was larger than {size}, DSQL's maximum for a non-key column.",
                    "Store large values elsewhere (for example in Amazon S3) and keep only a reference to them in the row.");
            }
            case DsqlLimit.KeySize:
            {
                var size = Size(ParseSize(serverMessage) ?? DsqlQuotas.MaxKeyBytes);
                return new Text(
                    $"{size} per key",
                    $"A key was larger than {size}, DSQL's maximum key size (primary keys and index keys).",
                    "Use shorter keys: store large values elsewhere (for example in Amazon S3) and reference them, or key " +
                    "on a generated id or a hash of the value.");
            }
            case DsqlLimit.ColumnsPerTable:
            {
                var count = Count(ParseCount(serverMessage) ?? DsqlQuotas.MaxColumnsPerTable);
                return new Text(
                    $"{count} columns per table",
                    $"The table would have more than {count} columns, DSQL's limit per table.",
                    "Use fewer columns, or split the table into several tables that share a key.");
            }
            case DsqlLimit.ColumnsPerIndex:
            {
                var count = Count(ParseCount(serverMessage) ?? DsqlQuotas.MaxColumnsPerIndex);
                return new Text(
                    $"{count} columns per index",
                    $"The index would have more than {count} columns, DSQL's limit per index.",
                    $"Use at most {count} columns per index.");
            }
            default:
                return new Text(
                    "a DSQL quota (see the server's message)",
                    "The statement ran into a DSQL limit.",
                    "See DSQL's quotas and limits, and make the statement or the transaction smaller.");
        }
    }

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
        var match = SizePattern().Match(message);
        if (!match.Success
            || !decimal.TryParse(match.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture,
                out var value)
            || value <= 0)
        {
            return null;
        }

        var unit = match.Groups["u"].Value.ToLowerInvariant();
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
        var match = TimePattern().Match(message);
        if (!match.Success
            || !double.TryParse(match.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture,
                out var value)
            || value <= 0)
        {
            return null;
        }

        var unit = match.Groups["u"].Value.ToLowerInvariant();
        return unit switch
        {
            "ms" or "millisecond" or "milliseconds" => value / 1000,
            "min" or "mins" or "minute" or "minutes" => value * 60,
            _ => value,
        };
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
