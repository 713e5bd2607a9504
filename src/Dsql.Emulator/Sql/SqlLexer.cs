namespace Dsql.Emulator.Sql;

/// <summary>Kinds of tokens produced by <see cref="SqlLexer"/>.</summary>
internal enum SqlTokenKind : byte
{
    /// <summary>Unquoted identifier or keyword.</summary>
    Word,
    /// <summary>Double-quoted identifier (never a keyword).</summary>
    QuotedIdent,
    /// <summary>Any string constant: '...', E'...', $$...$$, $tag$...$tag$.</summary>
    String,
    /// <summary>Numeric literal.</summary>
    Number,
    /// <summary>$n parameter placeholder.</summary>
    Param,
    /// <summary>Any other single character (operators, parentheses, commas, ';').</summary>
    Punct,
}

/// <summary>One token: a span of the source text plus its kind and parenthesis depth.</summary>
internal readonly struct SqlToken
{
    public SqlToken(SqlTokenKind kind, int start, int length, int depth, char ch)
    {
        Kind = kind;
        Start = start;
        Length = length;
        Depth = depth;
        Char = ch;
    }

    public SqlTokenKind Kind { get; }
    public int Start { get; }
    public int Length { get; }

    /// <summary>Parenthesis nesting depth; '(' and its matching ')' carry the outer depth.</summary>
    public int Depth { get; }

    /// <summary>For <see cref="SqlTokenKind.Punct"/>: the character; otherwise the first character.</summary>
    public char Char { get; }
}

/// <summary>
/// Allocation-free PostgreSQL lexer: skips whitespace and comments (nested block comments included) and
/// returns one token at a time. Unterminated quotes or comments extend to the end of the text.
/// </summary>
internal struct SqlLexer
{
    private readonly string _s;
    private int _pos;

    public SqlLexer(string s)
    {
        _s = s;
        _pos = 0;
        Depth = 0;
    }

    /// <summary>Current parenthesis depth; the caller may reset it at statement boundaries.</summary>
    public int Depth { get; set; }

    public bool Next(out SqlToken token)
    {
        string s = _s;
        int n = s.Length;
        int i = _pos;
        while (i < n)
        {
            char c = s[i];
            if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '-' && i + 1 < n && s[i + 1] == '-')
            {
                i += 2;
                while (i < n && s[i] != '\n' && s[i] != '\r')
                {
                    i++;
                }
            }
            else if (c == '/' && i + 1 < n && s[i + 1] == '*')
            {
                i = SkipBlockComment(s, i);
            }
            else
            {
                break;
            }
        }

        if (i >= n)
        {
            _pos = n;
            token = default;
            return false;
        }

        int start = i;
        char ch = s[i];
        SqlTokenKind kind;
        int depth = Depth;
        if (ch == '\'')
        {
            i = SkipQuoted(s, i + 1, '\'', backslash: false);
            kind = SqlTokenKind.String;
        }
        else if (ch == '"')
        {
            i = SkipQuoted(s, i + 1, '"', backslash: false);
            kind = SqlTokenKind.QuotedIdent;
        }
        else if (ch == '$')
        {
            if (i + 1 < n && IsDigit(s[i + 1]))
            {
                i += 2;
                while (i < n && IsDigit(s[i]))
                {
                    i++;
                }

                kind = SqlTokenKind.Param;
            }
            else
            {
                int end = SkipDollarQuote(s, i);
                if (end >= 0)
                {
                    i = end;
                    kind = SqlTokenKind.String;
                }
                else
                {
                    i++;
                    kind = SqlTokenKind.Punct;
                }
            }
        }
        else if (IsIdentStart(ch))
        {
            if ((ch == 'e' || ch == 'E') && i + 1 < n && s[i + 1] == '\'')
            {
                i = SkipQuoted(s, i + 2, '\'', backslash: true);
                kind = SqlTokenKind.String;
            }
            else
            {
                i++;
                while (i < n && (IsIdentPart(s[i]) || s[i] == '$'))
                {
                    i++;
                }

                kind = SqlTokenKind.Word;
            }
        }
        else if (IsDigit(ch))
        {
            i++;
            while (i < n && (IsIdentPart(s[i]) || s[i] == '.'))
            {
                i++;
            }

            kind = SqlTokenKind.Number;
        }
        else
        {
            i++;
            kind = SqlTokenKind.Punct;
            if (ch == '(')
            {
                Depth = depth + 1;
            }
            else if (ch == ')' && depth > 0)
            {
                depth--;
                Depth = depth;
            }
        }

        _pos = i;
        token = new SqlToken(kind, start, i - start, depth, ch);
        return true;
    }

    internal static bool IsDigit(char c) => (uint)(c - '0') <= 9;

    internal static bool IsIdentStart(char c) =>
        (uint)((c | 0x20) - 'a') <= 'z' - 'a' || c == '_' || c >= 0x80;

    internal static bool IsIdentPart(char c) => IsIdentStart(c) || IsDigit(c);

    private static int SkipBlockComment(string s, int i)
    {
        int n = s.Length;
        int level = 1;
        i += 2;
        while (i < n)
        {
            char c = s[i];
            if (c == '*' && i + 1 < n && s[i + 1] == '/')
            {
                i += 2;
                if (--level == 0)
                {
                    return i;
                }
            }
            else if (c == '/' && i + 1 < n && s[i + 1] == '*')
            {
                i += 2;
                level++;
            }
            else
            {
                i++;
            }
        }

        return n;
    }

    /// <summary>Skips to just past the closing quote; <paramref name="i"/> is the first char after the opening quote.</summary>
    private static int SkipQuoted(string s, int i, char quote, bool backslash)
    {
        int n = s.Length;
        while (i < n)
        {
            char c = s[i];
            if (c == quote)
            {
                if (i + 1 < n && s[i + 1] == quote)
                {
                    i += 2;
                    continue;
                }

                return i + 1;
            }

            i += backslash && c == '\\' ? 2 : 1;
        }

        return n;
    }

    /// <summary>If a dollar-quote opens at <paramref name="i"/>, returns the index just past its end (or the text end); else -1.</summary>
    private static int SkipDollarQuote(string s, int i)
    {
        int n = s.Length;
        int j = i + 1;
        if (j < n && s[j] != '$')
        {
            if (!IsIdentStart(s[j]))
            {
                return -1;
            }

            j++;
            while (j < n && IsIdentPart(s[j]))
            {
                j++;
            }

            if (j >= n || s[j] != '$')
            {
                return -1;
            }
        }
        else if (j >= n)
        {
            return -1;
        }

        int tagLength = j - i + 1;
        int bodyStart = j + 1;
        if (bodyStart >= n)
        {
            return n;
        }

        int close = s.AsSpan(bodyStart).IndexOf(s.AsSpan(i, tagLength), StringComparison.Ordinal);
        return close < 0 ? n : bodyStart + close + tagLength;
    }
}
