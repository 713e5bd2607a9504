namespace Dsql.Emulator.Sql;

/// <summary>The check rows of transactions, settings, COPY and SELECT INTO, and the answers DSQL gives for some settings.</summary>
internal static partial class StatementRules
{
    // ---- checks: rows whose match needs more than a pattern -----------------------------------------------

    private static DsqlRejection? Checks(StatementView s)
    {
        switch (char.ToUpperInvariant(s.Text(0)[0]))
        {
            case 'A':
                return s.Kw(0, "ALTER") && s.Kw(1, "TABLE") ? AlterTable(s) : null;
            case 'B':
                return s.Kw(0, "BEGIN") ? IsolationLevel(s, 1) : null;
            case 'C':
                if (s.Kw(0, "COPY"))
                {
                    return CopyFile(s);
                }

                return s.Kw(0, "CREATE") ? Create(s) : null;
            case 'R':
                return s.Kw(0, "RESET") ? Reset(s) : null;
            case 'S':
                if (s.Kw(0, "SET"))
                {
                    return Set(s);
                }

                if (s.Kw(0, "START") && s.Kw(1, "TRANSACTION"))
                {
                    return IsolationLevel(s, 2);
                }

                if (s.Kw(0, "SHOW") && s.Count == 2 && s.Is(1, SqlTokenKind.Word))
                {
                    ShowAnswer(s);
                    return null;
                }

                return s.Kw(0, "SELECT") ? SelectInto(s) : null;
            case 'W':
                return s.Kw(0, "WITH") ? SelectInto(s) : null;
            default:
                return null;
        }
    }

    /// <summary>SELECT ... INTO at the top level of the statement is CREATE TABLE AS in disguise.</summary>
    private static DsqlRejection? SelectInto(StatementView s)
    {
        bool dml = false;
        for (int i = 0; i < s.Count; i++)
        {
            if (s.Depth(i) != 0)
            {
                continue;
            }

            dml |= s.Kw(i, "INSERT") || s.Kw(i, "MERGE");
            if (s.Kw(i, "INTO") && !dml)
            {
                return DsqlRuleTable.Get("select_into").Reject();
            }
        }

        return null;
    }

    private static DsqlRejection? CopyFile(StatementView s)
    {
        for (int i = 1; i < s.Count; i++)
        {
            if (s.Depth(i) == 0 && (s.Kw(i, "FROM") || s.Kw(i, "TO")))
            {
                return s.Is(i + 1, SqlTokenKind.String) || s.Kw(i + 1, "PROGRAM")
                    ? DsqlRuleTable.Get("copy_file").Reject()
                    : null;
            }
        }

        return null;
    }

    /// <summary>Finds ISOLATION LEVEL x from <paramref name="from"/> on; refuses any level but REPEATABLE READ.</summary>
    private static DsqlRejection? IsolationLevel(StatementView s, int from)
    {
        for (int i = from; i + 2 < s.Count; i++)
        {
            if (!s.Kw(i, "ISOLATION") || !s.Kw(i + 1, "LEVEL"))
            {
                continue;
            }

            int l = i + 2;
            string? level = s.Kw(l, "SERIALIZABLE") ? "SERIALIZABLE"
                : s.Kw(l, "READ") && s.Kw(l + 1, "COMMITTED") ? "READ COMMITTED"
                : s.Kw(l, "READ") && s.Kw(l + 1, "UNCOMMITTED") ? "READ UNCOMMITTED"
                : null;
            return level is null ? null : DsqlRuleTable.Get("isolation_level").Reject("level", level);
        }

        return null;
    }

    private static DsqlRejection ParameterNotSupported(string name) => DsqlRuleTable.Get("set_parameter").Reject("name", name);

    private static DsqlRejection? Set(StatementView s)
    {
        int i = 1;
        if (s.Kw(1, "SESSION"))
        {
            if (s.Kw(2, "CHARACTERISTICS"))
            {
                return DsqlRuleTable.Get("set_transaction").Reject();
            }

            i = 2;
        }
        else if (s.Kw(1, "LOCAL"))
        {
            i = 2;
        }

        if (s.Kw(i, "CONSTRAINTS") && i == 1)
        {
            return null; // SET CONSTRAINTS: DSQL's own statement for deferrable foreign keys (guide: set-constraints-syntax-support)
        }

        if (s.Kw(i, "TRANSACTION"))
        {
            return IsolationLevel(s, i + 1) ?? DsqlRuleTable.Get("set_transaction").Reject();
        }

        if (s.Kw(i, "ROLE"))
        {
            return ParameterNotSupported("role");
        }

        if ((s.Kw(i, "SESSION") && s.Kw(i + 1, "AUTHORIZATION")) || (i == 2 && s.Kw(1, "SESSION") && s.Kw(2, "AUTHORIZATION")))
        {
            return ParameterNotSupported("session_authorization");
        }

        if ((s.Kw(i, "TIME") && s.Kw(i + 1, "ZONE")) || s.Kw(i, "NAMES") || s.Kw(i, "SCHEMA"))
        {
            return null;
        }

        return NamedParameter(s, i);
    }

    private static DsqlRejection? Reset(StatementView s)
    {
        if (s.Kw(1, "ALL"))
        {
            return ParameterNotSupported("ALL");
        }

        if (s.Kw(1, "ROLE"))
        {
            return ParameterNotSupported("role");
        }

        if (s.Kw(1, "SESSION") && s.Kw(2, "AUTHORIZATION"))
        {
            return ParameterNotSupported("session_authorization");
        }

        if (s.Kw(1, "TIME") && s.Kw(2, "ZONE"))
        {
            return null;
        }

        return NamedParameter(s, 1);
    }

    /// <summary>A (possibly dotted) parameter name at <paramref name="i"/>: allowed if on DSQL's list, else refused by name.</summary>
    private static DsqlRejection? NamedParameter(StatementView s, int i)
    {
        if (!s.IsIdent(i))
        {
            return null; // malformed: let PostgreSQL report the syntax error
        }

        if (!s.Punct(i + 1, '.'))
        {
            ReadOnlySpan<char> name = s.IdentSpan(i);
            foreach (string allowed in SettableParameters)
            {
                if (name.Equals(allowed, StringComparison.OrdinalIgnoreCase))
                {
                    return null;
                }
            }

            return ParameterNotSupported(s.Value(i));
        }

        string full = s.Value(i);
        for (int k = i + 1; s.Punct(k, '.') && s.IsIdent(k + 1); k += 2)
        {
            full = full + "." + s.Value(k + 1);
        }

        return ParameterNotSupported(full);
    }
}
