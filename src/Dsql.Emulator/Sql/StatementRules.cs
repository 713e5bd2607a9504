namespace Dsql.Emulator.Sql;

/// <summary>Classification and DSQL refusal rules for one statement (see <see cref="SqlAnalyzer"/>).</summary>
internal static class StatementRules
{
    private const string FeatureNotSupported = "0A000";
    private const string UndefinedObject = "42704";

    private static readonly string[] SerialTypes = ["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"];

    private static readonly string[] SettableParameters =
        ["client_encoding", "datestyle", "extra_float_digits", "intervalstyle", "timezone", "search_path"];

    public static StatementKind Classify(StatementView s, out DsqlRejection? rejection, out int asyncStart)
    {
        rejection = null;
        asyncStart = -1;
        if (s.Count == 0)
        {
            return StatementKind.Empty;
        }

        StatementKind kind = StatementKind.Other;
        if (s.Kw(0, "SELECT"))
        {
            kind = StatementKind.Query;
            rejection = SelectInto(s);
        }
        else if (s.Kw(0, "INSERT") || s.Kw(0, "UPDATE") || s.Kw(0, "DELETE") || s.Kw(0, "MERGE"))
        {
            kind = StatementKind.Dml;
        }
        else if (s.Kw(0, "VALUES") || s.Kw(0, "TABLE") || s.Kw(0, "SHOW") || s.Kw(0, "EXPLAIN"))
        {
            kind = StatementKind.Query;
        }
        else if (s.Kw(0, "WITH"))
        {
            kind = With(s, out rejection);
        }
        else if (s.Punct(0, '('))
        {
            kind = Parenthesized(s, out rejection);
        }
        else if (s.Kw(0, "CREATE"))
        {
            kind = StatementKind.Ddl;
            rejection = Create(s, out asyncStart);
        }
        else if (s.Kw(0, "ALTER"))
        {
            kind = StatementKind.Ddl;
            rejection = Alter(s);
        }
        else if (s.Kw(0, "DROP"))
        {
            kind = StatementKind.Ddl;
            if (s.Kw(1, "DATABASE"))
            {
                rejection = Unsupported("unsupported statement: Dropdb");
            }
        }
        else if (s.Kw(0, "COMMENT"))
        {
            kind = StatementKind.Ddl;
        }
        else
        {
            kind = Utility(s, out rejection);
        }

        rejection ??= Anywhere(s);
        return kind;
    }

    private static StatementKind Utility(StatementView s, out DsqlRejection? rejection)
    {
        rejection = null;
        switch (char.ToUpperInvariant(s.Text(0)[0]))
        {
            case 'A':
                if (s.Kw(0, "ABORT"))
                {
                    return StatementKind.Rollback;
                }

                break; // ANALYZE / ANALYSE: allowed
            case 'B':
                if (s.Kw(0, "BEGIN"))
                {
                    rejection = IsolationLevel(s, 1);
                    return StatementKind.Begin;
                }

                break;
            case 'C':
                if (s.Kw(0, "COMMIT"))
                {
                    if (s.Kw(1, "PREPARED"))
                    {
                        rejection = Unsupported("unsupported transaction statement: COMMIT PREPARED");
                        return StatementKind.Other;
                    }

                    return StatementKind.Commit;
                }

                if (s.Kw(0, "COPY"))
                {
                    return Copy(s, out rejection);
                }

                rejection = s.Kw(0, "CLOSE") ? Unsupported("unsupported statement: ClosePortal")
                    : s.Kw(0, "CLUSTER") ? Unsupported("unsupported statement: Cluster")
                    : s.Kw(0, "CHECKPOINT") ? Unsupported("unsupported statement: Checkpoint")
                    : null;
                break;
            case 'D':
                if (s.Kw(0, "DEALLOCATE"))
                {
                    int i = s.Kw(1, "PREPARE") ? 2 : 1;
                    if (!s.Kw(i, "ALL"))
                    {
                        rejection = Unsupported("unsupported statement: Deallocate");
                    }
                }
                else
                {
                    rejection = s.Kw(0, "DO") ? Unsupported("unsupported statement: Do")
                        : s.Kw(0, "DECLARE") ? Unsupported("unsupported statement: DeclareCursor")
                        : s.Kw(0, "DISCARD") ? Unsupported("unsupported statement: Discard")
                        : null;
                }

                break;
            case 'E':
                if (s.Kw(0, "END"))
                {
                    return StatementKind.Commit;
                }

                if (s.Kw(0, "EXECUTE"))
                {
                    rejection = Unsupported("unsupported statement: Execute");
                }

                break;
            case 'F':
                if (s.Kw(0, "FETCH"))
                {
                    rejection = Unsupported("unsupported statement: Fetch");
                }

                break;
            case 'L':
                rejection = s.Kw(0, "LISTEN") ? Unsupported("unsupported statement: Listen")
                    : s.Kw(0, "LOCK") ? Unsupported("unsupported statement: Lock")
                    : s.Kw(0, "LOAD") ? Unsupported("unsupported statement: Load")
                    : null;
                break;
            case 'M':
                if (s.Kw(0, "MOVE"))
                {
                    rejection = Unsupported("unsupported statement: Move");
                }

                break;
            case 'N':
                if (s.Kw(0, "NOTIFY"))
                {
                    rejection = Unsupported("unsupported statement: Notify");
                }

                break;
            case 'P':
                if (s.Kw(0, "PREPARE"))
                {
                    bool transaction = s.Kw(1, "TRANSACTION") && !s.Kw(2, "AS") && !s.Punct(2, '(');
                    rejection = Unsupported(transaction
                        ? "unsupported transaction statement: PREPARE TRANSACTION"
                        : "unsupported statement: Prepare");
                }

                break;
            case 'R':
                if (s.Kw(0, "ROLLBACK"))
                {
                    if (s.Kw(1, "PREPARED"))
                    {
                        rejection = Unsupported("unsupported transaction statement: ROLLBACK PREPARED");
                        return StatementKind.Other;
                    }

                    int i = s.Kw(1, "WORK") || s.Kw(1, "TRANSACTION") ? 2 : 1;
                    if (s.Kw(i, "TO"))
                    {
                        rejection = Unsupported("unsupported transaction statement: ROLLBACK TO");
                        return StatementKind.Other;
                    }

                    return StatementKind.Rollback;
                }

                rejection = s.Kw(0, "RESET") ? Reset(s)
                    : s.Kw(0, "RELEASE") ? Unsupported("unsupported transaction statement: RELEASE")
                    : s.Kw(0, "REINDEX") ? Unsupported("unsupported statement: Reindex")
                    : null;
                break;
            case 'S':
                if (s.Kw(0, "SET"))
                {
                    rejection = Set(s);
                }
                else if (s.Kw(0, "START"))
                {
                    if (s.Kw(1, "TRANSACTION"))
                    {
                        rejection = IsolationLevel(s, 2);
                        return StatementKind.Begin;
                    }
                }
                else if (s.Kw(0, "SAVEPOINT"))
                {
                    rejection = Unsupported("unsupported transaction statement: SAVEPOINT");
                }

                break;
            case 'T':
                if (s.Kw(0, "TRUNCATE"))
                {
                    rejection = Unsupported("unsupported statement: Truncate");
                }

                break;
            case 'U':
                if (s.Kw(0, "UNLISTEN"))
                {
                    rejection = Unsupported("unsupported statement: Unlisten");
                }

                break;
            case 'V':
                if (s.Kw(0, "VACUUM"))
                {
                    rejection = Unsupported("unsupported VACUUM statement");
                }

                break;
        }

        return StatementKind.Other;
    }

    private static DsqlRejection Unsupported(string message) => new(FeatureNotSupported, message);

    private static DsqlRejection CreateTableAs() => Unsupported("unsupported statement: CreateTableAs");

    // ---- queries -------------------------------------------------------------------------------

    /// <summary>SELECT ... INTO at the top level of the statement is CREATE TABLE AS in disguise.</summary>
    private static DsqlRejection? SelectInto(StatementView s)
    {
        for (int i = 0; i < s.Count; i++)
        {
            if (s.Tokens[i].Depth == 0 && s.Kw(i, "INTO"))
            {
                return CreateTableAs();
            }
        }

        return null;
    }

    private static StatementKind With(StatementView s, out DsqlRejection? rejection)
    {
        rejection = null;
        for (int i = 1; i < s.Count; i++)
        {
            if (s.Kw(i, "INSERT") || s.Kw(i, "DELETE") || s.Kw(i, "MERGE")
                || (s.Kw(i, "UPDATE") && !s.Kw(i - 1, "FOR") && !s.Kw(i - 1, "KEY")))
            {
                return StatementKind.Dml;
            }
        }

        rejection = SelectInto(s);
        return StatementKind.Query;
    }

    private static StatementKind Parenthesized(StatementView s, out DsqlRejection? rejection)
    {
        rejection = null;
        int i = 0;
        while (s.Punct(i, '('))
        {
            i++;
        }

        if (s.Kw(i, "WITH"))
        {
            return With(s, out rejection);
        }

        return s.Kw(i, "SELECT") || s.Kw(i, "VALUES") || s.Kw(i, "TABLE") ? StatementKind.Query : StatementKind.Other;
    }

    private static StatementKind Copy(StatementView s, out DsqlRejection? rejection)
    {
        rejection = null;
        for (int i = 1; i < s.Count; i++)
        {
            if (s.Tokens[i].Depth != 0)
            {
                continue;
            }

            bool from = s.Kw(i, "FROM");
            if (!from && !s.Kw(i, "TO"))
            {
                continue;
            }

            if (s.Is(i + 1, SqlTokenKind.String) || s.Kw(i + 1, "PROGRAM"))
            {
                rejection = Unsupported("unsupported statement: Copy to or from a file or program");
            }

            return from ? StatementKind.Dml : StatementKind.Query;
        }

        return StatementKind.Dml;
    }

    // ---- checks that apply to every statement --------------------------------------------------

    private static DsqlRejection? Anywhere(StatementView s)
    {
        for (int i = 0; i < s.Count; i++)
        {
            SqlToken t = s.Tokens[i];
            if (t.Kind == SqlTokenKind.Word && t.Length == 3 && s.Kw(i, "FOR"))
            {
                if (s.Kw(i + 1, "SHARE") || (s.Kw(i + 1, "NO") && s.Kw(i + 2, "KEY") && s.Kw(i + 3, "UPDATE")))
                {
                    return Unsupported("locking clauses other than FOR UPDATE/FOR KEY SHARE are not supported");
                }
            }
            else if (t.Kind is SqlTokenKind.Word or SqlTokenKind.QuotedIdent && t.Length >= 12 && s.Punct(i + 1, '('))
            {
                ReadOnlySpan<char> name = s.IdentSpan(i);
                if ((name.StartsWith("pg_advisory_", StringComparison.OrdinalIgnoreCase)
                        || name.StartsWith("pg_try_advisory_", StringComparison.OrdinalIgnoreCase))
                    && !s.Kw(i - 1, "FUNCTION") && !s.Kw(i - 1, "PROCEDURE"))
                {
                    return Unsupported("function " + name.ToString().ToLowerInvariant() + " not supported");
                }
            }
        }

        return null;
    }

    // ---- transactions and settings -------------------------------------------------------------

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
            return level is null ? null : Unsupported("Unsupported isolation level: " + level);
        }

        return null;
    }

    private static DsqlRejection ParameterNotSupported(string name) =>
        Unsupported("setting configuration parameter \"" + name + "\" not supported");

    private static DsqlRejection? Set(StatementView s)
    {
        int i = 1;
        if (s.Kw(1, "SESSION"))
        {
            if (s.Kw(2, "CHARACTERISTICS"))
            {
                return ParameterNotSupported("TRANSACTION");
            }

            i = 2;
        }
        else if (s.Kw(1, "LOCAL"))
        {
            i = 2;
        }

        if (s.Kw(i, "TRANSACTION"))
        {
            return IsolationLevel(s, i + 1) ?? ParameterNotSupported("TRANSACTION");
        }

        if (s.Kw(i, "ROLE"))
        {
            return ParameterNotSupported("role");
        }

        if (s.Kw(i, "SESSION") && s.Kw(i + 1, "AUTHORIZATION") || (i == 2 && s.Kw(1, "SESSION") && s.Kw(2, "AUTHORIZATION")))
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

    // ---- CREATE ----------------------------------------------------------------------------------

    private static DsqlRejection? Create(StatementView s, out int asyncStart)
    {
        asyncStart = -1;
        int i = 1;
        if (s.Kw(1, "OR") && s.Kw(2, "REPLACE"))
        {
            i = 3;
        }

        int j = s.Kw(i, "GLOBAL") || s.Kw(i, "LOCAL") ? i + 1 : i;
        if (s.Kw(j, "TEMP") || s.Kw(j, "TEMPORARY"))
        {
            j++;
            if (s.Kw(j, "RECURSIVE"))
            {
                j++;
            }

            return Unsupported(s.Kw(j, "VIEW") ? "TEMPORARY or TEMP table not supported for CREATE VIEW"
                : s.Kw(j, "SEQUENCE") ? "TEMPORARY or TEMP table not supported for CREATE SEQUENCE"
                : "TEMPORARY or TEMP table not supported for CREATE TABLE");
        }

        if (s.Kw(i, "UNLOGGED"))
        {
            return Unsupported(s.Kw(i + 1, "SEQUENCE")
                ? "UNLOGGED table not supported for CREATE SEQUENCE"
                : "UNLOGGED table not supported for CREATE TABLE");
        }

        if (s.Kw(i, "TRIGGER") || (s.Kw(i, "CONSTRAINT") && s.Kw(i + 1, "TRIGGER")))
        {
            return Unsupported("CREATE TRIGGER not supported");
        }

        if (s.Kw(i, "EVENT") && s.Kw(i + 1, "TRIGGER"))
        {
            return Unsupported("unsupported statement: CreateEventTrig");
        }

        if (s.Kw(i, "TABLE"))
        {
            return CreateTable(s, i + 1);
        }

        if (s.Kw(i, "INDEX") || (s.Kw(i, "UNIQUE") && s.Kw(i + 1, "INDEX")))
        {
            int a = s.Kw(i, "UNIQUE") ? i + 2 : i + 1;
            if (s.Kw(a, "ASYNC"))
            {
                asyncStart = s.Tokens[a].Start;
            }

            return null;
        }

        if (s.Kw(i, "FUNCTION"))
        {
            return Routine(s, i + 1, "CREATE FUNCTION with language ");
        }

        if (s.Kw(i, "PROCEDURE"))
        {
            return Routine(s, i + 1, "CREATE PROCEDURE with language ");
        }

        if (s.Kw(i, "TYPE"))
        {
            return CreateType(s, i + 1);
        }

        if (s.Kw(i, "FOREIGN"))
        {
            return s.Kw(i + 1, "TABLE") ? Unsupported("unsupported statement: CreateForeignTable")
                : s.Kw(i + 1, "DATA") ? Unsupported("unsupported statement: CreateFdw")
                : null;
        }

        return s.Kw(i, "EXTENSION") ? Unsupported("unsupported statement: CreateExtension")
            : s.Kw(i, "DATABASE") ? Unsupported("unsupported statement: Createdb")
            : s.Kw(i, "MATERIALIZED") ? CreateTableAs()
            : s.Kw(i, "TABLESPACE") ? Unsupported("unsupported statement: CreateTableSpace")
            : s.Kw(i, "SERVER") ? Unsupported("unsupported statement: CreateForeignServer")
            : s.Kw(i, "RULE") ? Unsupported("unsupported statement: CreateRule")
            : s.Kw(i, "PUBLICATION") ? Unsupported("unsupported statement: CreatePublication")
            : s.Kw(i, "SUBSCRIPTION") ? Unsupported("unsupported statement: CreateSubscription")
            : null;
    }

    private static DsqlRejection? CreateTable(StatementView s, int i)
    {
        if (s.Kw(i, "IF") && s.Kw(i + 1, "NOT") && s.Kw(i + 2, "EXISTS"))
        {
            i += 3;
        }

        int afterName = s.SkipQualifiedName(i);
        for (int k = afterName; k < s.Count; k++)
        {
            if (s.Tokens[k].Depth != 0)
            {
                if (s.Kw(k, "TABLESPACE") && s.Kw(k - 1, "INDEX"))
                {
                    return Unsupported("unsupported statement: CreateTableSpace");
                }

                continue;
            }

            if (s.Kw(k, "AS") || s.Kw(k, "EXECUTE"))
            {
                return CreateTableAs();
            }

            if (s.Kw(k, "PARTITION") && s.Kw(k + 1, "BY"))
            {
                return Unsupported("unsupported statement: partitioned tables");
            }

            if (s.Kw(k, "INHERITS"))
            {
                return Unsupported("unsupported statement: table inheritance");
            }

            if (s.Kw(k, "TABLESPACE"))
            {
                return Unsupported("unsupported statement: CreateTableSpace");
            }
        }

        if (!s.Punct(afterName, '('))
        {
            return null;
        }

        // Column list: each element starts after '(' or a depth-1 ','; "name type ..." unless a table constraint.
        for (int e = afterName + 1; e < s.Count; e++)
        {
            if (s.Punct(e, ')') && s.Depth(e) == 0)
            {
                break;
            }

            bool elementStart = e == afterName + 1 || (s.Punct(e - 1, ',') && s.Depth(e - 1) == 1);
            if (!elementStart || IsTableConstraintStart(s, e) || s.Kw(e, "LIKE") || !s.IsIdent(e))
            {
                continue;
            }

            if (SerialType(s, e + 1) is { } bad)
            {
                return bad;
            }
        }

        return null;
    }

    private static bool IsTableConstraintStart(StatementView s, int i) =>
        s.Kw(i, "CONSTRAINT") || s.Kw(i, "PRIMARY") || s.Kw(i, "UNIQUE") || s.Kw(i, "CHECK")
        || s.Kw(i, "FOREIGN") || s.Kw(i, "EXCLUDE");

    /// <summary>42704 when token <paramref name="i"/> is an unquoted serial pseudo-type.</summary>
    private static DsqlRejection? SerialType(StatementView s, int i)
    {
        if (!s.Is(i, SqlTokenKind.Word) || s.Punct(i + 1, '.'))
        {
            return null;
        }

        ReadOnlySpan<char> name = s.Text(i);
        foreach (string serial in SerialTypes)
        {
            if (name.Equals(serial, StringComparison.OrdinalIgnoreCase))
            {
                return new DsqlRejection(UndefinedObject, "type \"" + serial + "\" does not exist");
            }
        }

        return null;
    }

    private static DsqlRejection CreateType(StatementView s, int i)
    {
        int k = s.SkipQualifiedName(i);
        if (s.Kw(k, "AS"))
        {
            if (s.Punct(k + 1, '('))
            {
                return Unsupported("unsupported statement: CompositeType");
            }

            if (s.Kw(k + 1, "RANGE"))
            {
                return Unsupported("unsupported statement: CreateRange");
            }
        }

        return Unsupported("CREATE TYPE not supported");
    }

    private static DsqlRejection? Routine(StatementView s, int i, string prefix)
    {
        for (int k = i; k + 1 < s.Count; k++)
        {
            if (s.Tokens[k].Depth != 0 || !s.Kw(k, "LANGUAGE"))
            {
                continue;
            }

            SqlToken lang = s.Tokens[k + 1];
            if (lang.Kind is not (SqlTokenKind.Word or SqlTokenKind.QuotedIdent or SqlTokenKind.String))
            {
                return null;
            }

            if (lang.Kind == SqlTokenKind.Word && s.Kw(k + 1, "sql"))
            {
                return null;
            }

            string name = s.Value(k + 1);
            if (name.Equals("sql", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            return Unsupported(prefix + name.ToLowerInvariant() + " not supported");
        }

        return null; // no LANGUAGE clause: SQL-standard body, i.e. sql
    }

    // ---- ALTER -----------------------------------------------------------------------------------

    private static DsqlRejection? Alter(StatementView s)
    {
        if (s.Kw(1, "SYSTEM"))
        {
            return Unsupported("unsupported statement: AlterSystem");
        }

        if (!s.Kw(1, "TABLE"))
        {
            return null;
        }

        int i = 2;
        if (s.Kw(i, "IF") && s.Kw(i + 1, "EXISTS"))
        {
            i += 2;
        }

        if (s.Kw(i, "ONLY"))
        {
            i++;
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

            if (AlterTableAction(s, actionStart, k) is { } rejection)
            {
                return rejection;
            }

            actionStart = k + 1;
        }

        return null;
    }

    private static DsqlRejection? AlterTableAction(StatementView s, int a, int end)
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
                return null;
            }

            if (s.Kw(b, "IF") && s.Kw(b + 1, "NOT") && s.Kw(b + 2, "EXISTS"))
            {
                b += 3;
            }

            if (b + 1 >= end || !s.IsIdent(b))
            {
                return null;
            }

            if (SerialType(s, b + 1) is { } bad)
            {
                return bad;
            }

            for (int k = b + 2; k < end; k++)
            {
                if (s.Depth(k) == 0 && IsColumnConstraintKeyword(s, k))
                {
                    return Unsupported("ALTER TABLE ADD COLUMN with constraint not supported");
                }
            }

            return null;
        }

        if (s.Kw(a, "ALTER"))
        {
            int b = s.Kw(a + 1, "COLUMN") ? a + 2 : a + 1;
            if (!s.IsIdent(b))
            {
                return null;
            }

            b++;
            if (s.Kw(b, "SET") && s.Kw(b + 1, "DATA") && s.Kw(b + 2, "TYPE"))
            {
                b += 3;
            }
            else if (s.Kw(b, "TYPE"))
            {
                b++;
            }
            else
            {
                return null;
            }

            return b < end ? SerialType(s, b) : null;
        }

        return null;
    }

    private static bool IsColumnConstraintKeyword(StatementView s, int k) =>
        (s.Kw(k, "NOT") && s.Kw(k + 1, "NULL")) || s.Kw(k, "DEFAULT") || s.Kw(k, "CHECK") || s.Kw(k, "UNIQUE")
        || s.Kw(k, "PRIMARY") || s.Kw(k, "REFERENCES") || s.Kw(k, "GENERATED") || s.Kw(k, "CONSTRAINT");
}
