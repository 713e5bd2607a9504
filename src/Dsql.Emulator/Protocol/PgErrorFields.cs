using System.Text;

namespace Dsql.Emulator.Protocol;

/// <summary>
/// The fields of an ErrorResponse or NoticeResponse. Parsed only on the error path; the proxy rewrites a few of
/// them (SQLSTATE, message, and the PL/pgSQL context of the emulator's own helper functions).
/// </summary>
internal sealed class PgErrorFields
{
    private readonly List<KeyValuePair<byte, string>> _fields = new();

    public static PgErrorFields Parse(ReadOnlySpan<byte> body)
    {
        var result = new PgErrorFields();
        int i = 0;
        while (i < body.Length && body[i] != 0)
        {
            byte code = body[i++];
            int end = body[i..].IndexOf((byte)0);
            if (end < 0) end = body.Length - i;
            result._fields.Add(new(code, Encoding.UTF8.GetString(body.Slice(i, end))));
            i += end + 1;
        }
        return result;
    }

    public string? this[char code]
    {
        get
        {
            foreach (var field in _fields)
                if (field.Key == (byte)code) return field.Value;
            return null;
        }
        set
        {
            for (int i = 0; i < _fields.Count; i++)
            {
                if (_fields[i].Key != (byte)code) continue;
                if (value is null) _fields.RemoveAt(i);
                else _fields[i] = new((byte)code, value);
                return;
            }
            if (value is not null) _fields.Add(new((byte)code, value));
        }
    }

    public string SqlState => this['C'] ?? "XX000";
    public string Message => this['M'] ?? string.Empty;

    public void WriteTo(PgMessageWriter writer, byte type)
    {
        writer.BeginMessage(type);
        foreach (var field in _fields)
        {
            writer.WriteByte(field.Key);
            writer.WriteCString(field.Value);
        }
        writer.WriteByte(0);
        writer.EndMessage();
    }

    /// <summary>Builds an error the emulator itself raises.</summary>
    public static PgErrorFields Create(string severity, string sqlState, string message, string? detail = null, string? hint = null)
    {
        var result = new PgErrorFields();
        result['S'] = severity;
        result['V'] = severity;
        result['C'] = sqlState;
        result['M'] = message;
        if (detail is not null) result['D'] = detail;
        if (hint is not null) result['H'] = hint;
        return result;
    }
}
