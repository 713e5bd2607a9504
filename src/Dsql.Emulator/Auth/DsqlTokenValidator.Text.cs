using System.Globalization;
using System.Text;

namespace Dsql.Emulator.Auth;

/// <summary>The text forms a token is made of: percent-encoding, hex, SigV4 dates, and quoting client values safely.</summary>
internal sealed partial class DsqlTokenValidator
{
    /// <summary>Decodes a query component ('+' is a space, %XX are UTF-8 bytes); fails on bad escapes or UTF-8.</summary>
    private static bool TryPercentDecode(string s, int start, int end, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? result)
    {
        bool plain = true;
        for (int i = start; i < end; i++)
        {
            if (s[i] == '%' || s[i] == '+')
            {
                plain = false;
                break;
            }
        }

        if (plain)
        {
            result = s.Substring(start, end - start);
            return true;
        }

        result = null;
        var bytes = new byte[Encoding.UTF8.GetMaxByteCount(end - start)];
        int n = 0;
        Span<char> one = stackalloc char[1];
        for (int i = start; i < end; i++)
        {
            char c = s[i];
            if (c == '%')
            {
                if (i + 2 >= end)
                {
                    return false;
                }

                int hi = HexValue(s[i + 1]);
                int lo = HexValue(s[i + 2]);
                if (hi < 0 || lo < 0)
                {
                    return false;
                }

                bytes[n++] = (byte)((hi << 4) | lo);
                i += 2;
            }
            else if (c == '+')
            {
                bytes[n++] = (byte)' ';
            }
            else
            {
                one[0] = c;
                n += Encoding.UTF8.GetBytes(one, bytes.AsSpan(n));
            }
        }

        try
        {
            result = new UTF8Encoding(false, true).GetString(bytes, 0, n);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>SigV4 URI encoding: unreserved characters kept, every other UTF-8 byte as upper-case %XX.</summary>
    private static string UriEncode(string s)
    {
        bool plain = true;
        for (int i = 0; i < s.Length; i++)
        {
            if (!IsUnreserved(s[i]))
            {
                plain = false;
                break;
            }
        }

        if (plain)
        {
            return s;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(s);
        var sb = new StringBuilder(bytes.Length * 3);
        for (int i = 0; i < bytes.Length; i++)
        {
            byte b = bytes[i];
            if (b < 0x80 && IsUnreserved((char)b))
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append("0123456789ABCDEF"[b >> 4]).Append("0123456789ABCDEF"[b & 0xF]);
            }
        }

        return sb.ToString();
    }

    private static bool IsUnreserved(char c) =>
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';

    private static int HexValue(char c) =>
        c >= '0' && c <= '9' ? c - '0' :
        c >= 'a' && c <= 'f' ? c - 'a' + 10 :
        c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

    private static bool TryParseHex(string hex, Span<byte> destination)
    {
        if (hex.Length != destination.Length * 2)
        {
            return false;
        }

        for (int i = 0; i < destination.Length; i++)
        {
            int hi = HexValue(hex[2 * i]);
            int lo = HexValue(hex[2 * i + 1]);
            if (hi < 0 || lo < 0)
            {
                return false;
            }

            destination[i] = (byte)((hi << 4) | lo);
        }

        return true;
    }

    private static void AppendLowerHex(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            sb.Append("0123456789abcdef"[bytes[i] >> 4]).Append("0123456789abcdef"[bytes[i] & 0xF]);
        }
    }

    private static bool IsScopeDate(string s)
    {
        if (s.Length != 8)
        {
            return false;
        }

        for (int i = 0; i < 8; i++)
        {
            if (s[i] < '0' || s[i] > '9')
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryParseAmzDate(string s, out DateTime value) =>
        DateTime.TryParseExact(
            s,
            "yyyyMMdd'T'HHmmss'Z'",
            CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal,
            out value);

    private static bool TryParseExpires(string s, out int seconds)
    {
        seconds = 0;
        if (s.Length == 0 || s.Length > 6)
        {
            return false;
        }

        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c < '0' || c > '9')
            {
                return false;
            }

            seconds = (seconds * 10) + (c - '0');
        }

        return seconds >= 1 && seconds <= MaxExpiresSeconds;
    }

    private static string Iso(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Makes a client-supplied value safe and short enough to quote in an error message.</summary>
    private static string Display(string s)
    {
        const int Max = 100;
        bool clean = s.Length <= Max;
        for (int i = 0; clean && i < s.Length; i++)
        {
            if (char.IsControl(s[i]))
            {
                clean = false;
            }
        }

        if (clean)
        {
            return s;
        }

        var sb = new StringBuilder(Max + 3);
        for (int i = 0; i < s.Length && i < Max; i++)
        {
            sb.Append(char.IsControl(s[i]) ? '?' : s[i]);
        }

        if (s.Length > Max)
        {
            sb.Append("...");
        }

        return sb.ToString();
    }
}
