namespace Dsql.Emulator.Sql;

/// <summary>
/// Classifies one statement and applies DSQL's rule table (<see cref="DsqlRuleTable"/>) to it. The decisions are
/// the table's rows; this class only finds where in a statement each kind of row applies (the first keyword, the
/// column types, the casts, the clauses and function calls anywhere) and fills the messages' placeholders.
/// </summary>
internal static partial class StatementRules
{
    private static readonly string[] SettableParameters =
        ["client_encoding", "datestyle", "extra_float_digits", "intervalstyle", "timezone", "search_path"];

    private static readonly DsqlRule[] ClauseRules = DsqlRuleTable.InScope(RuleScope.Clause).ToArray();
    private static readonly DsqlRule[] FunctionRules = DsqlRuleTable.InScope(RuleScope.Function).ToArray();
    private static readonly DsqlRule SerialType = DsqlRuleTable.Get("serial_type");
    private static readonly DsqlRule ArrayColumn = DsqlRuleTable.Get("array_column");
    private static readonly DsqlRule UnsupportedColumnType = DsqlRuleTable.Get("unsupported_column_type");
    private static readonly DsqlRule UnsupportedCastType = DsqlRuleTable.Get("unsupported_cast_type");

    [ThreadStatic]
    private static List<SqlEdit>? t_edits;

    /// <summary>Classifies a statement, applies the rule table, and lists the edits that give it DSQL's meaning on PostgreSQL.</summary>
    public static StatementKind Classify(StatementView s, out DsqlRejection? rejection, out int asyncStart, out SqlEdit[]? edits)
    {
        t_edits?.Clear();
        StatementKind kind = Classify(s, out rejection, out asyncStart);
        edits = rejection is null && t_edits is { Count: > 0 } list ? list.ToArray() : null;
        return kind;
    }

    public static StatementKind Classify(StatementView s, out DsqlRejection? rejection, out int asyncStart)
    {
        rejection = null;
        asyncStart = -1;
        if (s.Count == 0)
        {
            return StatementKind.Empty;
        }

        StatementKind kind = Kind(s);
        if (kind == StatementKind.Ddl && s.Kw(0, "CREATE"))
        {
            int i = s.Kw(1, "UNIQUE") ? 2 : 1;
            if (s.Kw(i, "INDEX") && s.Kw(i + 1, "ASYNC"))
            {
                asyncStart = s.Tokens[i + 1].Start;
            }
        }

        if (s.Is(0, SqlTokenKind.Word))
        {
            foreach (DsqlRule rule in DsqlRuleTable.StatementRulesFor(s.Text(0)))
            {
                if (rule.Pattern!.Match(s, 0) >= 0)
                {
                    rejection = rule.Reject();
                    return kind;
                }
            }
        }

        rejection = Checks(s) ?? Anywhere(s);
        return kind;
    }

    // ---- classification --------------------------------------------------------------------------------

    private static StatementKind Kind(StatementView s)
    {
        if (s.Kw(0, "SELECT") || s.Kw(0, "VALUES") || s.Kw(0, "TABLE") || s.Kw(0, "SHOW") || s.Kw(0, "EXPLAIN"))
        {
            return StatementKind.Query;
        }

        if (s.Kw(0, "INSERT") || s.Kw(0, "UPDATE") || s.Kw(0, "DELETE") || s.Kw(0, "MERGE"))
        {
            return StatementKind.Dml;
        }

        if (s.Kw(0, "WITH"))
        {
            return With(s);
        }

        if (s.Punct(0, '('))
        {
            int i = 0;
            while (s.Punct(i, '('))
            {
                i++;
            }

            return s.Kw(i, "WITH") ? With(s)
                : s.Kw(i, "SELECT") || s.Kw(i, "VALUES") || s.Kw(i, "TABLE") ? StatementKind.Query
                : StatementKind.Other;
        }

        if (s.Kw(0, "CREATE") || s.Kw(0, "ALTER") || s.Kw(0, "DROP") || s.Kw(0, "COMMENT"))
        {
            return StatementKind.Ddl;
        }

        if (s.Kw(0, "BEGIN") || (s.Kw(0, "START") && s.Kw(1, "TRANSACTION")))
        {
            return StatementKind.Begin;
        }

        if ((s.Kw(0, "COMMIT") && !s.Kw(1, "PREPARED")) || s.Kw(0, "END"))
        {
            return StatementKind.Commit;
        }

        if (s.Kw(0, "ABORT"))
        {
            return StatementKind.Rollback;
        }

        if (s.Kw(0, "ROLLBACK"))
        {
            int i = s.Kw(1, "WORK") || s.Kw(1, "TRANSACTION") ? 2 : 1;
            return s.Kw(1, "PREPARED") || s.Kw(i, "TO") ? StatementKind.Other : StatementKind.Rollback;
        }

        if (s.Kw(0, "COPY"))
        {
            for (int i = 1; i < s.Count; i++)
            {
                if (s.Depth(i) == 0 && (s.Kw(i, "FROM") || s.Kw(i, "TO")))
                {
                    return s.Kw(i, "FROM") ? StatementKind.Dml : StatementKind.Query;
                }
            }

            return StatementKind.Dml;
        }

        return StatementKind.Other;
    }

    private static StatementKind With(StatementView s)
    {
        for (int i = 1; i < s.Count; i++)
        {
            if (s.Kw(i, "INSERT") || s.Kw(i, "DELETE") || s.Kw(i, "MERGE")
                || (s.Kw(i, "UPDATE") && !s.Kw(i - 1, "FOR") && !s.Kw(i - 1, "KEY")))
            {
                return StatementKind.Dml;
            }
        }

        return StatementKind.Query;
    }
}
