namespace Dsql.Emulator.Sql;

/// <summary>
/// Splits SQL text into statements, classifies them and decides which ones Aurora DSQL refuses.
/// One linear lexing pass; no regular expressions; no per-token allocation.
/// </summary>
internal static class SqlAnalyzer
{
    private const int MaxRetainedTokens = 1 << 14;

    [ThreadStatic]
    private static SqlToken[]? t_tokens;

    /// <summary>Splits <paramref name="sql"/> into statements and classifies each; clears and fills <paramref name="into"/>. Never throws on any input.</summary>
    public static void Analyze(string sql, List<StatementInfo> into)
    {
        into.Clear();
        sql ??= string.Empty;
        SqlToken[] tokens = t_tokens ?? new SqlToken[64];
        t_tokens = null; // guards against re-entrancy sharing the buffer
        int count = 0;
        int atomicDepth = 0;
        bool routine = false;
        var lexer = new SqlLexer(sql);
        while (lexer.Next(out SqlToken token))
        {
            if (token.Kind == SqlTokenKind.Punct && token.Char == ';' && atomicDepth == 0)
            {
                Emit(sql, tokens, count, token.Start, into);
                count = 0;
                routine = false;
                lexer.Depth = 0;
                continue;
            }

            if (count == tokens.Length)
            {
                Array.Resize(ref tokens, tokens.Length * 2);
            }

            tokens[count++] = token;
            if (token.Kind != SqlTokenKind.Word)
            {
                continue;
            }

            if (count == 2 || count == 4)
            {
                routine = IsRoutineHeader(sql, tokens, count);
            }
            else if (routine)
            {
                // SQL-standard routine bodies (BEGIN ATOMIC ... END) contain ';' that do not end the statement.
                ReadOnlySpan<char> w = sql.AsSpan(token.Start, token.Length);
                if (w.Equals("BEGIN", StringComparison.OrdinalIgnoreCase) || w.Equals("CASE", StringComparison.OrdinalIgnoreCase))
                {
                    atomicDepth++;
                }
                else if (atomicDepth > 0 && w.Equals("END", StringComparison.OrdinalIgnoreCase))
                {
                    atomicDepth--;
                }
            }
        }

        Emit(sql, tokens, count, sql.Length, into);
        if (tokens.Length <= MaxRetainedTokens)
        {
            t_tokens = tokens;
        }
    }

    /// <summary>Highest $n parameter placeholder referenced outside quotes/comments (0 if none).</summary>
    public static int MaxParameterIndex(string sql)
    {
        if (string.IsNullOrEmpty(sql) || sql.IndexOf('$') < 0)
        {
            return 0;
        }

        int max = 0;
        var lexer = new SqlLexer(sql);
        while (lexer.Next(out SqlToken token))
        {
            if (token.Kind != SqlTokenKind.Param)
            {
                continue;
            }

            long value = 0;
            int end = token.Start + token.Length;
            for (int i = token.Start + 1; i < end; i++)
            {
                value = (value * 10) + (sql[i] - '0');
                if (value > int.MaxValue)
                {
                    value = int.MaxValue;
                    break;
                }
            }

            if (value > max)
            {
                max = (int)value;
            }
        }

        return max;
    }

    /// <summary>
    /// Returns <paramref name="sql"/> with every ASYNC keyword of CREATE [UNIQUE] INDEX ASYNC blanked out
    /// (replaced by spaces, so offsets in server error positions stay valid); the same instance if there is none.
    /// </summary>
    public static string RemoveAsyncIndexKeyword(string sql, List<StatementInfo> analyzed)
    {
        char[]? buffer = null;
        for (int i = 0; i < analyzed.Count; i++)
        {
            int at = analyzed[i].AsyncKeywordStart;
            if (at < 0 || at > sql.Length - 5 || !sql.AsSpan(at, 5).Equals("ASYNC", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            buffer ??= sql.ToCharArray();
            buffer.AsSpan(at, 5).Fill(' ');
        }

        return buffer is null ? sql : new string(buffer);
    }

    /// <summary>Returns <paramref name="sql"/> with every statement's <see cref="StatementInfo.Edits"/> applied; the same instance if there is none.</summary>
    public static string ApplyEdits(string sql, List<StatementInfo> analyzed)
    {
        System.Text.StringBuilder? builder = null;
        int copied = 0;
        foreach (StatementInfo statement in analyzed)
        {
            if (statement.Edits is not { } edits)
            {
                continue;
            }

            foreach (SqlEdit edit in edits)
            {
                builder ??= new System.Text.StringBuilder(sql.Length + 16);
                builder.Append(sql, copied, edit.Offset - copied).Append(edit.Insert);
                copied = edit.Offset + edit.Remove;
            }
        }

        return builder is null ? sql : builder.Append(sql, copied, sql.Length - copied).ToString();
    }

    private static void Emit(string sql, SqlToken[] tokens, int count, int end, List<StatementInfo> into)
    {
        if (count == 0)
        {
            into.Add(new StatementInfo(StatementKind.Empty, end, 0, null, -1));
            return;
        }

        int start = tokens[0].Start;
        var statement = new StatementView(sql, new ReadOnlySpan<SqlToken>(tokens, 0, count));
        StatementKind kind = StatementRules.Classify(statement, out DsqlRejection? rejection, out int asyncStart, out SqlEdit[]? edits);
        into.Add(new StatementInfo(kind, start, end - start, rejection, asyncStart, edits));
    }

    private static bool IsRoutineHeader(string sql, SqlToken[] tokens, int count)
    {
        var v = new StatementView(sql, new ReadOnlySpan<SqlToken>(tokens, 0, count));
        if (!v.Kw(0, "CREATE"))
        {
            return false;
        }

        int i = 1;
        if (v.Kw(1, "OR") && v.Kw(2, "REPLACE"))
        {
            i = 3;
        }

        return v.Kw(i, "FUNCTION") || v.Kw(i, "PROCEDURE");
    }
}
