namespace Dsql.Emulator.Sql;

/// <summary>The check and column-type rows of CREATE: routines, sequences, domains, tables, columns, identity.</summary>
internal static partial class StatementRules
{
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
}
