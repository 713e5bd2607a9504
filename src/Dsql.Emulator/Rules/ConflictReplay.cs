using System.Globalization;
using Dsql.Emulator.Sql;

namespace Dsql.Emulator.Rules;

/// <summary>Which DML statement a <see cref="ConflictReplay"/> answers for.</summary>
internal enum ReplayKind
{
    /// <summary>UPDATE: the answer is the number of rows its WHERE matches in the transaction's snapshot.</summary>
    Update,
    /// <summary>DELETE: the answer is the number of rows its WHERE matches in the transaction's snapshot.</summary>
    Delete,
    /// <summary>INSERT ... VALUES: the answer is the number of rows listed.</summary>
    Insert,
}

/// <summary>
/// How to answer a DML statement that lost a write-write conflict as DSQL would have: DSQL lets the statement run in
/// the transaction's snapshot and fails the transaction at COMMIT. The emulator rolls the statement back to a
/// savepoint taken just before it and answers with the command tag the statement would have produced: for
/// UPDATE/DELETE the rows its WHERE clause matches in the same snapshot (counted with <see cref="CountSql"/>, which
/// takes the statement's own parameters), for INSERT ... VALUES the number of rows listed.
/// </summary>
/// <remarks>
/// Only forms whose answer is exactly a row count are planned: no RETURNING (rows would be needed), no UPDATE ... FROM
/// or DELETE ... USING (a join can match a target row several times), no WITH prefix, no WHERE CURRENT OF, no
/// INSERT ... SELECT / DEFAULT VALUES / ON CONFLICT, no MERGE. Others get no plan and their conflict is reported at the
/// statement (and counted).
/// </remarks>
internal sealed class ConflictReplay
{
    private ConflictReplay(ReplayKind kind, string? countSql, long insertedRows)
    {
        Kind = kind;
        CountSql = countSql;
        InsertedRows = insertedRows;
    }

    public ReplayKind Kind { get; }

    /// <summary>For UPDATE and DELETE: <c>SELECT count(*) FROM target WHERE condition</c> with the statement's parameters.</summary>
    public string? CountSql { get; }

    /// <summary>For INSERT: the rows of its VALUES list.</summary>
    public long InsertedRows { get; }

    /// <summary>The command tag for a statement that would have touched <paramref name="rows"/> rows.</summary>
    public string CommandTag(long rows) => Kind switch
    {
        ReplayKind.Update => "UPDATE " + rows.ToString(CultureInfo.InvariantCulture),
        ReplayKind.Delete => "DELETE " + rows.ToString(CultureInfo.InvariantCulture),
        _ => "INSERT 0 " + rows.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Plans the answer for one statement's text (no trailing ';'), or returns null when it cannot be reproduced exactly.</summary>
    public static ConflictReplay? TryPlan(string statement)
    {
        var lexer = new SqlLexer(statement);
        if (!lexer.Next(out var first) || first.Kind != SqlTokenKind.Word) return null;
        var verb = statement.AsSpan(first.Start, first.Length);
        if (verb.Equals("UPDATE", StringComparison.OrdinalIgnoreCase)) return PlanUpdate(statement, ref lexer, first);
        if (verb.Equals("DELETE", StringComparison.OrdinalIgnoreCase)) return PlanDelete(statement, ref lexer);
        if (verb.Equals("INSERT", StringComparison.OrdinalIgnoreCase)) return PlanInsert(statement, ref lexer);
        return null;
    }

    private static bool IsWord(string sql, in SqlToken token, string word) =>
        token.Kind == SqlTokenKind.Word && sql.AsSpan(token.Start, token.Length).Equals(word, StringComparison.OrdinalIgnoreCase);

    private static ConflictReplay? PlanUpdate(string sql, ref SqlLexer lexer, SqlToken verb)
    {
        int targetStart = verb.Start + verb.Length, targetEnd = -1, whereStart = -1;
        while (lexer.Next(out var token))
        {
            if (token.Depth != 0 || token.Kind != SqlTokenKind.Word) continue;
            if (targetEnd < 0)
            {
                if (IsWord(sql, token, "SET")) targetEnd = token.Start;
                continue;
            }
            if (IsWord(sql, token, "FROM") || IsWord(sql, token, "RETURNING")) return null;
            if (whereStart < 0 && IsWord(sql, token, "WHERE"))
            {
                whereStart = token.Start + token.Length;
                if (lexer.Next(out var next) && IsWord(sql, next, "CURRENT")) return null;
            }
        }
        if (targetEnd < 0) return null;
        return new ConflictReplay(ReplayKind.Update, BuildCountSql(sql, targetStart, targetEnd, whereStart), 0);
    }

    private static ConflictReplay? PlanDelete(string sql, ref SqlLexer lexer)
    {
        if (!lexer.Next(out var from) || !IsWord(sql, from, "FROM")) return null;
        int targetStart = from.Start + from.Length, targetEnd = sql.Length, whereStart = -1;
        while (lexer.Next(out var token))
        {
            if (token.Depth != 0 || token.Kind != SqlTokenKind.Word) continue;
            if (IsWord(sql, token, "USING") || IsWord(sql, token, "RETURNING")) return null;
            if (whereStart < 0 && IsWord(sql, token, "WHERE"))
            {
                targetEnd = token.Start;
                whereStart = token.Start + token.Length;
                if (lexer.Next(out var next) && IsWord(sql, next, "CURRENT")) return null;
            }
        }
        return new ConflictReplay(ReplayKind.Delete, BuildCountSql(sql, targetStart, targetEnd, whereStart), 0);
    }

    private static string BuildCountSql(string sql, int targetStart, int targetEnd, int whereStart)
    {
        string target = sql[targetStart..targetEnd].Trim();
        return whereStart < 0
            ? $"SELECT count(*) FROM {target}"
            : $"SELECT count(*) FROM {target} WHERE {sql[whereStart..].Trim()}";
    }

    private static ConflictReplay? PlanInsert(string sql, ref SqlLexer lexer)
    {
        if (!lexer.Next(out var into) || !IsWord(sql, into, "INTO")) return null;
        bool inValues = false;
        long rows = 0;
        while (lexer.Next(out var token))
        {
            if (token.Depth != 0) continue;
            if (!inValues)
            {
                if (token.Kind != SqlTokenKind.Word) continue;
                if (IsWord(sql, token, "VALUES")) inValues = true;
                else if (IsWord(sql, token, "SELECT") || IsWord(sql, token, "DEFAULT") || IsWord(sql, token, "ON")
                         || IsWord(sql, token, "RETURNING") || IsWord(sql, token, "TABLE") || IsWord(sql, token, "WITH")) return null;
                continue;
            }
            // After VALUES only the rows' parentheses and the commas between them stand at depth 0.
            if (token.Kind != SqlTokenKind.Punct) return null;
            if (token.Char == '(') rows++;
            else if (token.Char is not (')' or ',')) return null;
        }
        return inValues && rows > 0 ? new ConflictReplay(ReplayKind.Insert, null, rows) : null;
    }
}
