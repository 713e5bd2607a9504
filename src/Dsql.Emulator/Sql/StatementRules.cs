namespace Dsql.Emulator.Sql;

/// <summary>
/// Classifies one statement and applies DSQL's rule table (<see cref="DsqlRuleTable"/>) to it. The decisions are
/// the table's rows; this class only finds where in a statement each kind of row applies (the first keyword, the
/// column types, the casts, the clauses and function calls anywhere) and fills the messages' placeholders.
/// </summary>
internal static class StatementRules
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

    // ---- CREATE ----------------------------------------------------------------------------------------

    private static DsqlRejection? Create(StatementView s)
    {
        int i = s.Kw(1, "OR") && s.Kw(2, "REPLACE") ? 3 : 1;
        if (s.Kw(i, "FUNCTION") || s.Kw(i, "PROCEDURE"))
        {
            return Routine(s, i);
        }

        if (s.Kw(i, "SEQUENCE"))
        {
            return Cache(s, i + 1, s.Count) ? null : DsqlRuleTable.Get("sequence_cache").Reject();
        }

        if (s.Kw(i, "DOMAIN"))
        {
            int k = s.SkipQualifiedName(i + 1);
            if (s.Kw(k, "AS"))
            {
                k++;
            }

            return ColumnType(s, k, out _, out _);
        }

        if (s.Kw(i, "TABLE"))
        {
            return CreateTable(s, i + 1);
        }

        return null;
    }

    private static DsqlRejection? Routine(StatementView s, int i)
    {
        string kind = s.Kw(i, "FUNCTION") ? "FUNCTION" : "PROCEDURE";
        for (int k = i + 1; k + 1 < s.Count; k++)
        {
            if (s.Depth(k) != 0 || !s.Kw(k, "LANGUAGE"))
            {
                continue;
            }

            if (s.Tokens[k + 1].Kind is not (SqlTokenKind.Word or SqlTokenKind.QuotedIdent or SqlTokenKind.String))
            {
                return null;
            }

            string name = s.Value(k + 1);
            if (name.Equals("sql", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            var rejection = DsqlRuleTable.Get("function_language").Reject("language", name.ToLowerInvariant());
            return rejection with { Message = rejection.Message.Replace("{kind}", kind, StringComparison.Ordinal) };
        }

        return null; // no LANGUAGE clause: a SQL-standard body, i.e. sql
    }

    private static DsqlRejection? CreateTable(StatementView s, int i)
    {
        if (s.Kw(i, "IF") && s.Kw(i + 1, "NOT") && s.Kw(i + 2, "EXISTS"))
        {
            i += 3;
        }

        int open = s.SkipQualifiedName(i);
        if (!s.Punct(open, '('))
        {
            return null;
        }

        // Column list: each element starts after '(' or a depth-1 ','; "name type ..." unless a table constraint.
        int elementStart = open + 1;
        for (int e = open + 1; e <= s.Count; e++)
        {
            bool end = e == s.Count || (s.Punct(e, ')') && s.Depth(e) == 0);
            if (!end && !(s.Punct(e, ',') && s.Depth(e) == 1))
            {
                continue;
            }

            if (ColumnDefinition(s, elementStart, e, alterTable: false) is { } rejection)
            {
                return rejection;
            }

            if (end)
            {
                break;
            }

            elementStart = e + 1;
        }

        return null;
    }

    private static bool IsTableConstraintStart(StatementView s, int i) =>
        s.Kw(i, "CONSTRAINT") || s.Kw(i, "PRIMARY") || s.Kw(i, "UNIQUE") || s.Kw(i, "CHECK")
        || s.Kw(i, "FOREIGN") || s.Kw(i, "EXCLUDE") || s.Kw(i, "LIKE");

    /// <summary>Checks "name type [constraints]" between <paramref name="start"/> and <paramref name="end"/>.</summary>
    private static DsqlRejection? ColumnDefinition(StatementView s, int start, int end, bool alterTable)
    {
        if (start >= end || IsTableConstraintStart(s, start) || !s.IsIdent(start))
        {
            return null;
        }

        if (ColumnType(s, start + 1, out var type, out int afterType) is { } bad)
        {
            return bad;
        }

        if (type is { Display: "numeric", HasModifier: false, IsArray: false, Support: DsqlTypeSupport.Supported })
        {
            // DSQL gives a numeric column declared without precision its documented default, numeric(18,6).
            SqlToken last = s.Tokens[afterType - 1];
            AddEdit(new SqlEdit(last.Start + last.Length, 0, "(18,6)"));
        }

        bool constraint = false;
        for (int k = afterType; k < end; k++)
        {
            if (s.Depth(k) != s.Depth(start) || !IsColumnConstraintKeyword(s, k))
            {
                continue;
            }

            constraint = true;
            if (!alterTable && s.Kw(k, "GENERATED") && (s.Kw(k + 1, "ALWAYS") || s.Kw(k + 1, "BY"))
                && Identity(s, k, end, type) is { } identity)
            {
                return identity;
            }
        }

        return alterTable && constraint ? DsqlRuleTable.Get("alter_add_column_constraint").Reject() : null;
    }

    private static bool IsColumnConstraintKeyword(StatementView s, int k) =>
        (s.Kw(k, "NOT") && s.Kw(k + 1, "NULL")) || s.Kw(k, "DEFAULT") || s.Kw(k, "CHECK") || s.Kw(k, "UNIQUE")
        || s.Kw(k, "PRIMARY") || s.Kw(k, "REFERENCES") || s.Kw(k, "GENERATED") || s.Kw(k, "CONSTRAINT");

    /// <summary>A column's data type at <paramref name="i"/> against the column-type rows.</summary>
    private static DsqlRejection? ColumnType(StatementView s, int i, out TypeReference type, out int end)
    {
        if (!DsqlTypes.TryRead(s, i, out type, out end))
        {
            return null;
        }

        if (type.Support == DsqlTypeSupport.Serial)
        {
            return SerialType.Reject("type", type.Display);
        }

        if (type.IsArray)
        {
            return ArrayColumn.Reject("type", type.MessageName);
        }

        return type.Support is DsqlTypeSupport.Unsupported or DsqlTypeSupport.RuntimeOnly
            ? UnsupportedColumnType.Reject("type", type.Display)
            : null;
    }

    /// <summary>GENERATED ... AS IDENTITY [( options )] at <paramref name="k"/>: the cache rule, then the type rule.</summary>
    private static DsqlRejection? Identity(StatementView s, int k, int end, TypeReference type)
    {
        int i = k + 1;
        while (i < end && !s.Kw(i, "IDENTITY"))
        {
            if (s.Punct(i, '(') || s.Punct(i, ','))
            {
                return null; // GENERATED ALWAYS AS (expression) STORED
            }

            i++;
        }

        if (i >= end)
        {
            return null;
        }

        int optionsEnd = i + 1;
        if (s.Punct(i + 1, '('))
        {
            int depth = s.Depth(i + 1);
            optionsEnd = i + 2;
            while (optionsEnd < end && !(s.Punct(optionsEnd, ')') && s.Depth(optionsEnd) == depth))
            {
                optionsEnd++;
            }
        }

        if (!Cache(s, i + 1, optionsEnd))
        {
            return DsqlRuleTable.Get("identity_cache").Reject();
        }

        return type.Support != DsqlTypeSupport.Unknown && type.Display != "bigint"
            ? DsqlRuleTable.Get("identity_type").Reject("type", type.MessageName)
            : null;
    }

    /// <summary>True when a CACHE option between the bounds is 1 or at least 65,536 (DSQL requires one of those).</summary>
    private static bool Cache(StatementView s, int from, int to)
    {
        for (int k = from; k < to; k++)
        {
            if (s.Kw(k, "CACHE") && s.Is(k + 1, SqlTokenKind.Number) && long.TryParse(s.Text(k + 1), out long cache))
            {
                return cache == 1 || cache >= 65536;
            }
        }

        return false;
    }

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

    // ---- anywhere: clauses, function calls, casts --------------------------------------------------------

    private static DsqlRejection? Anywhere(StatementView s)
    {
        for (int i = 0; i < s.Count; i++)
        {
            SqlToken t = s.Tokens[i];
            if (t.Kind == SqlTokenKind.Punct)
            {
                if (t.Char == ':' && s.Punct(i + 1, ':') && Cast(s, i + 2) is { } cast)
                {
                    return cast;
                }

                continue;
            }

            if (t.Kind != SqlTokenKind.Word && t.Kind != SqlTokenKind.QuotedIdent)
            {
                continue;
            }

            if (t.Kind == SqlTokenKind.Word)
            {
                foreach (DsqlRule rule in ClauseRules)
                {
                    if (rule.Pattern!.Match(s, i) >= 0)
                    {
                        return rule.Reject();
                    }
                }

                if (s.Kw(i, "CAST") && s.Punct(i + 1, '(') && CastAs(s, i + 1) is { } castAs)
                {
                    return castAs;
                }

                if (s.Is(i + 1, SqlTokenKind.String) && !IsNameContext(s, i) && DsqlTypes.IsUnsupported(s.Text(i), out string literalType))
                {
                    return UnsupportedCastType.Reject("type", literalType); // a typed literal: point '(1,2)'
                }
            }

            if (s.Punct(i + 1, '(') && (!s.Punct(i - 1, '.') || (s.IsIdent(i - 2) && s.IdentSpan(i - 2).Equals("pg_catalog", StringComparison.OrdinalIgnoreCase)))
                && !IsNameContext(s, i) && Function(s, i) is { } function)
            {
                return function;
            }
        }

        return null;
    }

    /// <summary>Tokens after which an identifier names a relation or routine, not a function call or a type.</summary>
    private static bool IsNameContext(StatementView s, int i) =>
        i > 0 && (s.Kw(i - 1, "TABLE") || s.Kw(i - 1, "INTO") || s.Kw(i - 1, "FROM") || s.Kw(i - 1, "JOIN")
                  || s.Kw(i - 1, "UPDATE") || s.Kw(i - 1, "REFERENCES") || s.Kw(i - 1, "ON") || s.Kw(i - 1, "INDEX")
                  || s.Kw(i - 1, "VIEW") || s.Kw(i - 1, "FUNCTION") || s.Kw(i - 1, "PROCEDURE") || s.Kw(i - 1, "EXISTS")
                  || s.Kw(i - 1, "AS") || s.Kw(i - 1, "ONLY") || s.Kw(i - 1, "TYPE") || s.Kw(i - 1, "DOMAIN")
                  || s.Kw(i - 1, "SEQUENCE") || s.Kw(i - 1, "SCHEMA") || s.Kw(i - 1, "COLUMN")
                  || (s.Punct(i - 1, '(') && s.Kw(0, "CREATE")));

    private static DsqlRejection? Function(StatementView s, int i)
    {
        ReadOnlySpan<char> name = s.IdentSpan(i);
        if (name.Length < 3)
        {
            return null;
        }

        foreach (DsqlRule rule in FunctionRules)
        {
            if (!rule.NamesFunction(name))
            {
                continue;
            }

            switch (rule.Id)
            {
                case "text_search_configuration":
                    // The configuration is the first argument when there is more than one; otherwise the default.
                    string config = s.Is(i + 2, SqlTokenKind.String) && s.Punct(i + 3, ',') ? s.Value(i + 2) : "english";
                    int dot = config.LastIndexOf('.');
                    return rule.Reject("name", dot >= 0 ? config[(dot + 1)..] : config);
                case "lc_setting":
                    if (s.Is(i + 2, SqlTokenKind.String) && s.Value(i + 2) is var setting
                        && (setting.Equals("lc_collate", StringComparison.OrdinalIgnoreCase) || setting.Equals("lc_ctype", StringComparison.OrdinalIgnoreCase)))
                    {
                        return rule.Reject("name", setting.ToLowerInvariant());
                    }

                    continue;
                case "unsupported_constructor":
                    return rule.Reject("type", name.ToString().ToLowerInvariant());
                case "server_version_setting":
                    // current_setting('server_version'): DSQL's value, from the setting the emulator keeps for it.
                    if (s.Is(i + 2, SqlTokenKind.String) && DsqlRuleTable.AnsweredSetting(s.Value(i + 2)) is { } answered)
                    {
                        SqlToken literal = s.Tokens[i + 2];
                        AddEdit(new SqlEdit(literal.Start, literal.Length, "'" + answered + "'"));
                    }

                    continue;
                default:
                    return rule.Reject("name", name.ToString().ToLowerInvariant());
            }
        }

        return null;
    }

    private static DsqlRejection? Cast(StatementView s, int i)
    {
        if (!DsqlTypes.TryRead(s, i, out var type, out _))
        {
            return null;
        }

        return type.Support == DsqlTypeSupport.Unsupported ? UnsupportedCastType.Reject("type", type.MessageName) : null;
    }

    /// <summary>CAST ( expression AS type ): the AS at the parenthesis' own depth + 1.</summary>
    private static DsqlRejection? CastAs(StatementView s, int open)
    {
        int depth = s.Depth(open) + 1;
        for (int k = open + 1; k < s.Count; k++)
        {
            if (s.Punct(k, ')') && s.Depth(k) == depth - 1)
            {
                return null;
            }

            if (s.Depth(k) == depth && s.Kw(k, "AS"))
            {
                return Cast(s, k + 1);
            }
        }

        return null;
    }
}
