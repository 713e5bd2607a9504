namespace Dsql.Emulator.Sql;

/// <summary>The statement forms that take part in DSQL's asynchronous DDL jobs.</summary>
internal enum AsyncDdlKind
{
    /// <summary>None of the forms below.</summary>
    None,
    /// <summary><c>CREATE [UNIQUE] INDEX ASYNC [IF NOT EXISTS] [name] ON table ...</c></summary>
    CreateIndexAsync,
    /// <summary><c>CREATE [UNIQUE] INDEX CONCURRENTLY ...</c> (what a job runs; never accepted from a client).</summary>
    CreateIndexConcurrently,
    /// <summary><c>ALTER TABLE ASYNC [IF EXISTS] [ONLY] table VALIDATE CONSTRAINT name</c></summary>
    AlterTableAsyncValidate,
    /// <summary><c>ALTER TABLE [IF EXISTS] [ONLY] table VALIDATE CONSTRAINT name</c> (what a job runs).</summary>
    ValidateConstraint,
    /// <summary><c>ALTER TABLE ... ADD [CONSTRAINT c] {UNIQUE | PRIMARY KEY} USING INDEX name</c></summary>
    AddConstraintUsingIndex,
    /// <summary><c>DROP INDEX [CONCURRENTLY] [IF EXISTS] name [, ...]</c></summary>
    DropIndex,
    /// <summary><c>DROP TABLE [IF EXISTS] name [, ...]</c></summary>
    DropTable,
    /// <summary><c>CALL sys.wait_for_job(...)</c></summary>
    CallWaitForJob,
}

/// <summary>A schema-qualified or bare object name, as PostgreSQL folds it (unquoted names in lower case).</summary>
internal readonly record struct ObjectName(string? Schema, string Name);

/// <summary>
/// One statement read for the job rules: its form, where the <c>ASYNC</c> keyword is, the table as written
/// (for a <c>regclass</c> cast in the caller's search path) and the object names it touches.
/// </summary>
internal readonly record struct AsyncDdl(AsyncDdlKind Kind, int AsyncStart, int AsyncLength, string? TableText, ObjectName[] Names)
{
    private static readonly AsyncDdl NoneValue = new(AsyncDdlKind.None, -1, 0, null, []);

    /// <summary>
    /// Reads <paramref name="statement"/> (a statement found in <paramref name="sql"/> by <see cref="SqlAnalyzer"/>).
    /// Positions (<see cref="AsyncStart"/>) are relative to the statement's text. Never throws.
    /// </summary>
    public static AsyncDdl Parse(string sql, StatementInfo statement)
    {
        if (statement.Kind is not (StatementKind.Ddl or StatementKind.Other) || statement.Length == 0) return NoneValue;
        string text = statement.GetText(sql);
        var tokens = new List<SqlToken>(32);
        var lexer = new SqlLexer(text);
        while (lexer.Next(out var token)) tokens.Add(token);
        var s = new StatementView(text, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens));
        if (s.Kw(0, "CREATE")) return CreateIndex(s);
        if (s.Kw(0, "ALTER") && s.Kw(1, "TABLE")) return AlterTable(s);
        if (s.Kw(0, "DROP") && (s.Kw(1, "INDEX") || s.Kw(1, "TABLE"))) return Drop(s);
        if (s.Kw(0, "CALL") && IsName(s, 1, "sys") && s.Punct(2, '.') && IsName(s, 3, "wait_for_job")) return new(AsyncDdlKind.CallWaitForJob, -1, 0, null, []);
        return NoneValue;
    }

    private static AsyncDdl CreateIndex(StatementView s)
    {
        int i = s.Kw(1, "UNIQUE") ? 2 : 1;
        if (!s.Kw(i, "INDEX")) return NoneValue;
        i++;
        AsyncDdlKind kind;
        if (s.Kw(i, "ASYNC")) kind = AsyncDdlKind.CreateIndexAsync;
        else if (s.Kw(i, "CONCURRENTLY")) kind = AsyncDdlKind.CreateIndexConcurrently;
        else return NoneValue;
        int keyword = i++;
        if (s.Kw(i, "IF") && s.Kw(i + 1, "NOT") && s.Kw(i + 2, "EXISTS")) i += 3;
        ObjectName[] names = [];
        if (!s.Kw(i, "ON"))
        {
            if (!s.IsIdent(i)) return NoneValue;
            names = [new ObjectName(null, Fold(s, i))];
            i++;
        }
        if (!s.Kw(i, "ON")) return NoneValue;
        i++;
        if (s.Kw(i, "ONLY")) i++;
        int tableEnd = s.SkipQualifiedName(i);
        if (tableEnd == i) return NoneValue;
        return new(kind, s.Tokens[keyword].Start, s.Tokens[keyword].Length, RawText(s, i, tableEnd), names);
    }

    private static AsyncDdl AlterTable(StatementView s)
    {
        int i = 2;
        int keyword = -1;
        if (s.Kw(i, "ASYNC") && (s.IsIdent(i + 1) && !s.Kw(i + 1, "VALIDATE")))
        {
            keyword = i++;
        }
        if (s.Kw(i, "IF") && s.Kw(i + 1, "EXISTS")) i += 2;
        if (s.Kw(i, "ONLY")) i++;
        int tableEnd = s.SkipQualifiedName(i);
        if (tableEnd == i) return NoneValue;
        int j = tableEnd;
        if (s.Punct(j, '*')) j++;
        if (s.Kw(j, "VALIDATE") && s.Kw(j + 1, "CONSTRAINT") && s.IsIdent(j + 2) && j + 3 == s.Count)
        {
            var names = new[] { new ObjectName(null, Fold(s, j + 2)) };
            return keyword >= 0
                ? new(AsyncDdlKind.AlterTableAsyncValidate, s.Tokens[keyword].Start, s.Tokens[keyword].Length, RawText(s, i, tableEnd), names)
                : new(AsyncDdlKind.ValidateConstraint, -1, 0, RawText(s, i, tableEnd), names);
        }
        if (keyword >= 0) return NoneValue;
        var used = new List<ObjectName>();
        for (int k = j; k + 2 < s.Count; k++)
        {
            if (s.Depth(k) == 0 && s.Kw(k, "USING") && s.Kw(k + 1, "INDEX") && s.IsIdent(k + 2) && (s.Kw(k - 1, "UNIQUE") || s.Kw(k - 1, "KEY")))
                used.Add(new ObjectName(null, Fold(s, k + 2)));
        }
        return used.Count == 0 ? NoneValue : new(AsyncDdlKind.AddConstraintUsingIndex, -1, 0, RawText(s, i, tableEnd), [.. used]);
    }

    private static AsyncDdl Drop(StatementView s)
    {
        bool index = s.Kw(1, "INDEX");
        int i = 2;
        if (index && s.Kw(i, "CONCURRENTLY")) i++;
        if (s.Kw(i, "IF") && s.Kw(i + 1, "EXISTS")) i += 2;
        var names = new List<ObjectName>();
        while (s.IsIdent(i))
        {
            if (s.Punct(i + 1, '.') && s.IsIdent(i + 2))
            {
                names.Add(new ObjectName(Fold(s, i), Fold(s, i + 2)));
                i += 3;
            }
            else
            {
                names.Add(new ObjectName(null, Fold(s, i)));
                i++;
            }
            if (!s.Punct(i, ',')) break;
            i++;
        }
        return names.Count == 0 ? NoneValue : new(index ? AsyncDdlKind.DropIndex : AsyncDdlKind.DropTable, -1, 0, null, [.. names]);
    }

    private static bool IsName(StatementView s, int i, string name) => s.IsIdent(i) && Fold(s, i) == name;

    /// <summary>An identifier's value as PostgreSQL folds it: unquoted in lower case, quoted as written.</summary>
    private static string Fold(StatementView s, int i) =>
        s.Tokens[i].Kind == SqlTokenKind.QuotedIdent ? s.Value(i) : s.Text(i).ToString().ToLowerInvariant();

    private static string RawText(StatementView s, int from, int to)
    {
        int start = s.Tokens[from].Start;
        var last = s.Tokens[to - 1];
        return s.Sql.Substring(start, last.Start + last.Length - start);
    }
}
