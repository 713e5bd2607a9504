namespace Dsql.Emulator.Sql;

/// <summary>The check rows of ALTER TABLE: the actions DSQL lists, constraints added to existing tables.</summary>
internal static partial class StatementRules
{
    // ---- ALTER TABLE -----------------------------------------------------------------------------------

    private static DsqlRejection? AlterTable(StatementView s)
    {
        int i = 2;
        bool async = s.Kw(i, "ASYNC");
        if (async)
        {
            i++;
        }

        if (s.Kw(i, "IF") && s.Kw(i + 1, "EXISTS"))
        {
            i += 2;
        }

        if (s.Kw(i, "ONLY"))
        {
            i++;
        }

        if (s.Kw(i, "ALL") && s.Kw(i + 1, "IN"))
        {
            return null;
        }

        i = s.SkipQualifiedName(i);
        if (s.Punct(i, '*'))
        {
            i++;
        }

        // Actions are separated by top-level commas.
        int actionStart = i;
        for (int k = i; k <= s.Count; k++)
        {
            if (k < s.Count && !(s.Punct(k, ',') && s.Depth(k) == 0))
            {
                continue;
            }

            if (AlterTableAction(s, actionStart, k, async) is { } rejection)
            {
                return rejection;
            }

            actionStart = k + 1;
        }

        return null;
    }

    private static DsqlRejection? AlterTableAction(StatementView s, int a, int end, bool async)
    {
        if (s.Kw(a, "ADD"))
        {
            int b = a + 1;
            if (s.Kw(b, "COLUMN"))
            {
                b++;
            }
            else if (IsTableConstraintStart(s, b))
            {
                return AddConstraint(s, b, end);
            }

            if (s.Kw(b, "IF") && s.Kw(b + 1, "NOT") && s.Kw(b + 2, "EXISTS"))
            {
                b += 3;
            }

            return ColumnDefinition(s, b, end, alterTable: true);
        }

        if (s.Kw(a, "ALTER") && !s.Kw(a + 1, "CONSTRAINT"))
        {
            int b = s.Kw(a + 1, "COLUMN") ? a + 2 : a + 1;
            if (!s.IsIdent(b))
            {
                return null;
            }

            b++;
            string? action =
                s.Kw(b, "TYPE") || (s.Kw(b, "SET") && s.Kw(b + 1, "DATA")) ? "ALTER COLUMN ... SET DATA TYPE"
                : s.Kw(b, "SET") && s.Kw(b + 1, "NOT") ? "ALTER COLUMN ... SET NOT NULL"
                : s.Kw(b, "SET") && s.Kw(b + 1, "STATISTICS") ? "ALTER COLUMN ... SET STATISTICS"
                : s.Kw(b, "SET") && s.Kw(b + 1, "COMPRESSION") ? "ALTER COLUMN ... SET COMPRESSION"
                : s.Kw(b, "SET") && s.Punct(b + 1, '(') ? "ALTER COLUMN ... SET"
                : s.Kw(b, "RESET") ? "ALTER COLUMN ... RESET"
                : s.Kw(b, "OPTIONS") ? "ALTER COLUMN ... OPTIONS"
                : null;
            if (action is not null)
            {
                return UnsupportedAction(action);
            }

            if (s.Kw(b, "ADD") && s.Kw(b + 1, "GENERATED") && !Cache(s, b + 2, end))
            {
                return DsqlRuleTable.Get("identity_cache").Reject();
            }

            return null;
        }

        if (s.Kw(a, "VALIDATE") && s.Kw(a + 1, "CONSTRAINT"))
        {
            return async ? null : DsqlRuleTable.Get("alter_validate_sync").Reject();
        }

        string? other =
            s.Kw(a, "CLUSTER") ? "CLUSTER ON"
            : s.Kw(a, "SET") && s.Kw(a + 1, "WITHOUT") && s.Kw(a + 2, "CLUSTER") ? "SET WITHOUT CLUSTER"
            : s.Kw(a, "SET") && s.Kw(a + 1, "WITHOUT") && s.Kw(a + 2, "OIDS") ? "SET WITHOUT OIDS"
            : s.Kw(a, "SET") && s.Kw(a + 1, "ACCESS") ? "SET ACCESS METHOD"
            : s.Kw(a, "SET") && s.Kw(a + 1, "LOGGED") ? "SET LOGGED"
            : s.Kw(a, "SET") && s.Kw(a + 1, "UNLOGGED") ? "SET UNLOGGED"
            : s.Kw(a, "SET") && s.Kw(a + 1, "TABLESPACE") ? "SET TABLESPACE"
            : s.Kw(a, "SET") && s.Punct(a + 1, '(') ? "SET"
            : s.Kw(a, "RESET") && s.Punct(a + 1, '(') ? "RESET"
            : s.Kw(a, "ENABLE") || s.Kw(a, "DISABLE") ? TriggerOrRuleAction(s, a)
            : s.Kw(a, "FORCE") && s.Kw(a + 1, "ROW") ? "FORCE ROW SECURITY"
            : s.Kw(a, "NO") && s.Kw(a + 1, "FORCE") ? "NO FORCE ROW SECURITY"
            : s.Kw(a, "INHERIT") ? "INHERIT"
            : s.Kw(a, "NO") && s.Kw(a + 1, "INHERIT") ? "NO INHERIT"
            : s.Kw(a, "OF") ? "OF"
            : s.Kw(a, "NOT") && s.Kw(a + 1, "OF") ? "NOT OF"
            : s.Kw(a, "REPLICA") && s.Kw(a + 1, "IDENTITY") ? "REPLICA IDENTITY"
            : s.Kw(a, "OPTIONS") ? "OPTIONS"
            : s.Kw(a, "ATTACH") && s.Kw(a + 1, "PARTITION") ? "ATTACH PARTITION"
            : s.Kw(a, "DETACH") && s.Kw(a + 1, "PARTITION") ? (s.Kw(end - 1, "FINALIZE") ? "DETACH PARTITION ... FINALIZE" : "DETACH PARTITION")
            : null;
        return other is null ? null : UnsupportedAction(other);
    }

    private static string TriggerOrRuleAction(StatementView s, int a)
    {
        string verb = s.Kw(a, "ENABLE") ? "ENABLE" : "DISABLE";
        int b = a + 1;
        if (s.Kw(b, "ROW"))
        {
            return verb + " ROW SECURITY";
        }

        string mode = s.Kw(b, "ALWAYS") ? " ALWAYS" : s.Kw(b, "REPLICA") ? " REPLICA" : string.Empty;
        if (mode.Length > 0)
        {
            b++;
        }

        if (s.Kw(b, "RULE"))
        {
            return verb + mode + " RULE";
        }

        string which = s.Kw(b + 1, "ALL") ? " ALL" : s.Kw(b + 1, "USER") ? " USER" : string.Empty;
        return verb + mode + " TRIGGER" + which;
    }

    private static DsqlRejection UnsupportedAction(string action) =>
        DsqlRuleTable.Get("alter_table_action").Reject("action", action);

    private static DsqlRejection? AddConstraint(StatementView s, int b, int end)
    {
        int c = b;
        if (s.Kw(c, "CONSTRAINT"))
        {
            c = s.SkipQualifiedName(c + 1);
        }

        bool notValid = false;
        bool usingIndex = false;
        for (int k = c; k < end; k++)
        {
            if (s.Depth(k) != 0)
            {
                continue;
            }

            notValid |= s.Kw(k, "NOT") && s.Kw(k + 1, "VALID");
            usingIndex |= s.Kw(k, "USING") && s.Kw(k + 1, "INDEX");
        }

        if (s.Kw(c, "CHECK") || s.Kw(c, "FOREIGN"))
        {
            return notValid ? null : DsqlRuleTable.Get("alter_add_constraint").Reject();
        }

        if (s.Kw(c, "UNIQUE") && usingIndex)
        {
            return null; // guide: ADD table_constraint_using_index
        }

        return s.Kw(c, "UNIQUE") || s.Kw(c, "PRIMARY") || s.Kw(c, "EXCLUDE")
            ? DsqlRuleTable.Get("alter_add_constraint").Reject()
            : null;
    }

    /// <summary>SHOW of a setting whose value DSQL reports differently from the backend (server_version): DSQL's value, with SHOW's column name and tag.</summary>
    private static void ShowAnswer(StatementView s)
    {
        string name = s.Text(1).ToString().ToLowerInvariant();
        if (DsqlRuleTable.AnsweredSetting(name) is null)
        {
            return;
        }

        SqlToken first = s.Tokens[0], last = s.Tokens[1];
        AddEdit(new SqlEdit(first.Start, last.Start + last.Length - first.Start,
            "SELECT " + DsqlRuleTable.ShowFunction + "('" + name + "') AS " + name));
    }

    private static void AddEdit(SqlEdit edit) => (t_edits ??= new List<SqlEdit>()).Add(edit);
}
