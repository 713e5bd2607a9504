using System.Globalization;
using Npgsql;

namespace Dsql.Connector;

/// <summary>How setting values are written in a connection string: parsing and formatting per type, and quoting.</summary>
internal static class DsqlSettingText
{
    public static int ParseInt(DsqlKeyword<int> keyword, string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw keyword.Invalid(text);

    public static double ParseDouble(DsqlKeyword<double> keyword, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw keyword.Invalid(text);

    public static bool ParseBool(DsqlKeyword<bool> keyword, string text) => text.ToLowerInvariant() switch
    {
        "true" or "yes" or "on" or "1" => true,
        "false" or "no" or "off" or "0" => false,
        _ => throw keyword.Invalid(text),
    };

    /// <summary>Whole seconds (<c>900</c>) or a <c>[d.]hh:mm:ss[.fff]</c> span.</summary>
    public static TimeSpan ParseSeconds(DsqlKeyword keyword, string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds) &&
            seconds is > -100_000_000_000 and < 100_000_000_000)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (text.Contains(':', StringComparison.Ordinal) &&
            TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span))
        {
            return span;
        }

        throw keyword.Invalid(text);
    }

    /// <summary>Npgsql's names (<c>VerifyFull</c>) and libpq's (<c>verify-full</c>), in any case.</summary>
    public static SslMode ParseSslMode(DsqlKeyword<SslMode> keyword, string text)
    {
        var compact = text.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal)
            .Replace(" ", "", StringComparison.Ordinal);
        if (compact.Length > 0 && compact.All(char.IsAsciiLetter) &&
            Enum.TryParse<SslMode>(compact, ignoreCase: true, out var mode))
        {
            return mode;
        }

        throw keyword.Invalid(text);
    }

    public static bool IsWholeSeconds(TimeSpan span) => span.Ticks % TimeSpan.TicksPerSecond == 0;

    public static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Format(bool value) => value ? "true" : "false";

    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static string Format(SslMode value) => value.ToString();

    /// <summary>Whole seconds as a number of seconds, anything finer as <c>[-][d.]hh:mm:ss.fffffff</c>.</summary>
    public static string Format(TimeSpan value) => IsWholeSeconds(value)
        ? (value.Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture)
        : value.ToString("c", CultureInfo.InvariantCulture);

    public static string Format(TimeSpan? value) => value is { } span ? Format(span) : "";

    /// <summary>A value as it must be written after <c>Keyword=</c> to be read back unchanged.</summary>
    public static string Quote(string value)
    {
        var needsQuotes = value.Length == 0 || value.Trim().Length != value.Length ||
                          value.IndexOfAny([';', '\'', '"']) >= 0;
        if (!needsQuotes)
        {
            return value;
        }

        return value.Contains('"', StringComparison.Ordinal) && !value.Contains('\'', StringComparison.Ordinal)
            ? "'" + value + "'"
            : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }
}
