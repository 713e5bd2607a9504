namespace Dsql.Emulator.Sql;

/// <summary>Coarse classification of one SQL statement, as the proxy needs it for transaction rules.</summary>
internal enum StatementKind
{
    /// <summary>Only whitespace and/or comments.</summary>
    Empty,
    /// <summary>SELECT, VALUES, TABLE, SHOW, EXPLAIN, read-only WITH, COPY ... TO STDOUT.</summary>
    Query,
    /// <summary>INSERT, UPDATE, DELETE, MERGE, COPY ... FROM STDIN, WITH containing a data-modifying statement.</summary>
    Dml,
    /// <summary>CREATE, ALTER, DROP, COMMENT ON.</summary>
    Ddl,
    /// <summary>BEGIN or START TRANSACTION.</summary>
    Begin,
    /// <summary>COMMIT or END.</summary>
    Commit,
    /// <summary>ROLLBACK or ABORT (not ROLLBACK TO / ROLLBACK PREPARED).</summary>
    Rollback,
    /// <summary>Anything else (SET, GRANT, ANALYZE, ...).</summary>
    Other,
}

/// <summary>A refusal: the SQLSTATE and message DSQL answers, and the id of the rule-table row that decided it (null for transaction rules).</summary>
internal readonly record struct DsqlRejection(string SqlState, string Message, string? RuleId = null);

/// <summary>One statement found by <see cref="SqlAnalyzer.Analyze"/>: where it is, what it is, and whether DSQL refuses it.</summary>
internal sealed class StatementInfo
{
    internal StatementInfo(StatementKind kind, int start, int length, DsqlRejection? rejection, int asyncKeywordStart, SqlEdit[]? edits = null)
    {
        Edits = edits;
        Kind = kind;
        Start = start;
        Length = length;
        Rejection = rejection;
        AsyncKeywordStart = asyncKeywordStart;
    }

    /// <summary>Classification of the statement.</summary>
    public StatementKind Kind { get; }

    /// <summary>Char offset of the statement's first token in the analyzed text (for an empty statement: the offset of its terminating ';' or the end of the text).</summary>
    public int Start { get; }

    /// <summary>Length from <see cref="Start"/> up to but excluding the terminating ';' (or the end of the text); 0 for an empty statement.</summary>
    public int Length { get; }

    /// <summary>Non-null when DSQL refuses the statement.</summary>
    public DsqlRejection? Rejection { get; }

    /// <summary>For CREATE [UNIQUE] INDEX ASYNC: char offset of the ASYNC keyword, else -1.</summary>
    public int AsyncKeywordStart { get; }

    /// <summary>Edits (offsets in the analyzed text) that give the statement DSQL's meaning on PostgreSQL, e.g. numeric's default precision; null when none.</summary>
    public SqlEdit[]? Edits { get; }

    /// <summary>True when DSQL refuses the statement.</summary>
    public bool IsRejected => Rejection.HasValue;

    /// <summary>The statement's text within the analyzed SQL.</summary>
    public string GetText(string sql) => sql.Substring(Start, Length);

    /// <inheritdoc />
    public override string ToString() =>
        Rejection is { } r ? $"{Kind} [{Start},{Length}) rejected {r.SqlState}: {r.Message}" : $"{Kind} [{Start},{Length})";
}

/// <summary>A text edit of an analyzed statement: remove <see cref="Remove"/> characters at <see cref="Offset"/>, then insert <see cref="Insert"/>.</summary>
internal readonly record struct SqlEdit(int Offset, int Remove, string Insert);
