using System.Text;

namespace Dsql.Connector;

/// <summary>
/// Reads the two forms of a DSQL connection string into (keyword, value) pairs, in order: Npgsql-style
/// <c>Key=Value;...</c> (values optionally quoted with <c>'</c> or <c>"</c>, a doubled quote standing for itself)
/// and <c>postgres://</c> / <c>postgresql://</c> URIs (user, host, port and database from the URI's parts, the
/// query parameters percent-decoded). What the keywords mean is <see cref="DsqlKeywords"/>' business.
/// </summary>
internal static class DsqlConnectionStringParser
{
    /// <summary>Whether the text is a URI rather than key=value pairs.</summary>
    public static bool IsUri(string text) =>
        text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
        text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase);

    /// <summary>The pairs of either form.</summary>
    /// <exception cref="DsqlConfigurationException">The text is malformed, or names a refused keyword.</exception>
    public static IEnumerable<(string Key, string Value)> Read(string connectionString)
    {
        var text = connectionString.Trim();
        return IsUri(text) ? ReadUri(text) : ReadKeyValues(text);
    }

    private static IEnumerable<(string Key, string Value)> ReadKeyValues(string text)
    {
        var i = 0;
        var n = text.Length;
        while (i < n)
        {
            while (i < n && (char.IsWhiteSpace(text[i]) || text[i] == ';'))
            {
                i++;
            }

            if (i >= n)
            {
                yield break;
            }

            var keyStart = i;
            while (i < n && text[i] != '=' && text[i] != ';')
            {
                i++;
            }

            var key = text[keyStart..i].Trim();
            if (i >= n || text[i] == ';')
            {
                throw new DsqlConfigurationException(SettingOf(key),
                    $"'{key}' in the connection string has no value: write settings as Keyword=Value;Keyword=Value.");
            }

            if (key.Length == 0)
            {
                throw new DsqlConfigurationException("ConnectionString",
                    "The connection string has a '=' with no keyword before it: write settings as Keyword=Value;Keyword=Value.");
            }

            // Refused before its value is even read, so that no error can quote a password.
            if (DsqlKeywords.FindRefused(key) is { } refused)
            {
                throw refused.Exception();
            }

            i++; // '='
            while (i < n && text[i] is ' ' or '\t')
            {
                i++;
            }

            string value;
            if (i < n && text[i] is '\'' or '"')
            {
                (value, i) = ReadQuoted(text, i, key);
            }
            else
            {
                var valueStart = i;
                while (i < n && text[i] != ';')
                {
                    i++;
                }

                value = text[valueStart..i].Trim();
            }

            yield return (key, value);
        }
    }

    /// <summary>A quoted value starting at <paramref name="start"/>, and the index after it and any space.</summary>
    private static (string Value, int Next) ReadQuoted(string text, int start, string key)
    {
        var n = text.Length;
        var i = start;
        var quote = text[i++];
        var sb = new StringBuilder();
        while (true)
        {
            if (i >= n)
            {
                throw new DsqlConfigurationException(SettingOf(key),
                    $"The value of {key} opens a quote ({quote}) that is never closed.");
            }

            if (text[i] == quote)
            {
                if (i + 1 < n && text[i + 1] == quote)
                {
                    sb.Append(quote);
                    i += 2;
                    continue;
                }

                i++;
                break;
            }

            sb.Append(text[i++]);
        }

        while (i < n && char.IsWhiteSpace(text[i]))
        {
            i++;
        }

        if (i < n && text[i] != ';')
        {
            throw new DsqlConfigurationException(SettingOf(key),
                $"The value of {key} has text after its closing quote ({quote}); separate settings with ';'.");
        }

        return (sb.ToString(), i);
    }

    private static IEnumerable<(string Key, string Value)> ReadUri(string text)
    {
        var rest = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];
        rest = Before(rest, '#', out _);
        rest = Before(rest, '?', out var query);
        rest = Before(rest, '/', out var path);

        var hostPort = rest;
        var at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = rest[..at];
            hostPort = rest[(at + 1)..];
            if (userInfo.Contains(':', StringComparison.Ordinal))
            {
                throw new DsqlConfigurationException("Password",
                    "The URI contains a password, but DSQL authenticates with IAM authentication tokens, which the " +
                    "connector generates for every new connection from your AWS credentials. Remove the password (the " +
                    "role needs dsql:DbConnect, or dsql:DbConnectAdmin for admin).");
            }

            if (userInfo.Length > 0)
            {
                yield return ("Username", Uri.UnescapeDataString(userInfo));
            }
        }

        var (host, port) = SplitHostPort(hostPort);
        if (host.Length > 0)
        {
            yield return ("Host", Uri.UnescapeDataString(host));
        }

        if (!string.IsNullOrEmpty(port))
        {
            yield return ("Port", Uri.UnescapeDataString(port));
        }

        if (!string.IsNullOrEmpty(path))
        {
            yield return ("Database", Uri.UnescapeDataString(path));
        }

        foreach (var part in (query ?? "").Split('&'))
        {
            if (part.Length == 0)
            {
                continue;
            }

            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                var bare = Uri.UnescapeDataString(part);
                throw new DsqlConfigurationException(SettingOf(bare),
                    $"URI query parameter '{bare}' has no value: write it as {bare}=value.");
            }

            var key = Uri.UnescapeDataString(part[..equals]).Trim();
            if (key.Length == 0)
            {
                throw new DsqlConfigurationException("ConnectionString",
                    "The URI has a query parameter with no name before its '='.");
            }

            yield return (key, Uri.UnescapeDataString(part[(equals + 1)..]));
        }
    }

    /// <summary>The text before <paramref name="separator"/>; what follows it goes to <paramref name="after"/>.</summary>
    private static string Before(string text, char separator, out string? after)
    {
        var index = text.IndexOf(separator, StringComparison.Ordinal);
        after = index >= 0 ? text[(index + 1)..] : null;
        return index >= 0 ? text[..index] : text;
    }

    /// <summary>Host and port of <c>host[:port]</c> or <c>[ipv6][:port]</c>; a list of hosts stays whole (refused later).</summary>
    private static (string Host, string? Port) SplitHostPort(string hostPort)
    {
        if (hostPort.StartsWith('['))
        {
            var close = hostPort.IndexOf(']', StringComparison.Ordinal);
            return close > 0 && close + 1 < hostPort.Length && hostPort[close + 1] == ':'
                ? (hostPort[..(close + 1)], hostPort[(close + 2)..])
                : (hostPort, null);
        }

        var colon = hostPort.LastIndexOf(':');
        return colon < 0 || hostPort.Contains(',', StringComparison.Ordinal)
            ? (hostPort, null)
            : (hostPort[..colon], hostPort[(colon + 1)..]);
    }

    private static string SettingOf(string key) => DsqlKeywords.SettingOf(key) ?? key;
}
