namespace Dsql.Emulator.Sql;

/// <summary>Token-level view of one statement with cheap, allocation-free keyword tests.</summary>
internal readonly ref struct StatementView
{
    public StatementView(string sql, ReadOnlySpan<SqlToken> tokens)
    {
        Sql = sql;
        Tokens = tokens;
    }

    public string Sql { get; }

    public ReadOnlySpan<SqlToken> Tokens { get; }

    public int Count => Tokens.Length;

    /// <summary>True when token <paramref name="i"/> is the unquoted keyword <paramref name="keyword"/> (case-insensitive).</summary>
    public bool Kw(int i, string keyword)
    {
        if ((uint)i >= (uint)Tokens.Length)
        {
            return false;
        }

        SqlToken t = Tokens[i];
        return t.Kind == SqlTokenKind.Word && t.Length == keyword.Length
            && Sql.AsSpan(t.Start, t.Length).Equals(keyword, StringComparison.OrdinalIgnoreCase);
    }

    public bool Punct(int i, char c) =>
        (uint)i < (uint)Tokens.Length && Tokens[i].Kind == SqlTokenKind.Punct && Tokens[i].Char == c;

    public bool Is(int i, SqlTokenKind kind) => (uint)i < (uint)Tokens.Length && Tokens[i].Kind == kind;

    public bool IsIdent(int i) =>
        (uint)i < (uint)Tokens.Length && Tokens[i].Kind is SqlTokenKind.Word or SqlTokenKind.QuotedIdent;

    public int Depth(int i) => (uint)i < (uint)Tokens.Length ? Tokens[i].Depth : 0;

    public ReadOnlySpan<char> Text(int i) => Sql.AsSpan(Tokens[i].Start, Tokens[i].Length);

    /// <summary>Identifier text with surrounding double quotes stripped (embedded "" left doubled).</summary>
    public ReadOnlySpan<char> IdentSpan(int i)
    {
        ReadOnlySpan<char> text = Text(i);
        if (Tokens[i].Kind == SqlTokenKind.QuotedIdent)
        {
            text = text.Length >= 2 && text[text.Length - 1] == '"' ? text.Slice(1, text.Length - 2) : text.Slice(1);
        }

        return text;
    }

    /// <summary>Identifier (or string constant) as its value: quotes stripped and doubled quotes collapsed.</summary>
    public string Value(int i)
    {
        SqlToken t = Tokens[i];
        ReadOnlySpan<char> text = Text(i);
        if (t.Kind is not (SqlTokenKind.QuotedIdent or SqlTokenKind.String) || text.Length == 0)
        {
            return text.ToString();
        }

        char q = text[0];
        if (q is not ('"' or '\''))
        {
            return text.ToString(); // E'...' or dollar-quoted: good enough for messages
        }

        text = text.Length >= 2 && text[text.Length - 1] == q ? text.Slice(1, text.Length - 2) : text.Slice(1);
        string value = text.ToString();
        return q == '"' ? value.Replace("\"\"", "\"") : value.Replace("''", "'");
    }

    /// <summary>Skips a possibly qualified name (a.b.c) starting at <paramref name="i"/>; returns the index after it.</summary>
    public int SkipQualifiedName(int i)
    {
        if (!IsIdent(i))
        {
            return i;
        }

        i++;
        while (Punct(i, '.') && IsIdent(i + 1))
        {
            i += 2;
        }

        return i;
    }
}
