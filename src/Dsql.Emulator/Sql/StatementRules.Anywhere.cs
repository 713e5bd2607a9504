namespace Dsql.Emulator.Sql;

/// <summary>The clause, function and cast rows, applied anywhere in a statement.</summary>
internal static partial class StatementRules
{
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
