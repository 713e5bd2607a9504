using System.Globalization;
using System.Text;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Sql;

namespace Dsql.Emulator.Rules;

/// <summary>What <see cref="StatementRewriter.Rewrite"/> decided for one query text.</summary>
/// <param name="Text">The text to send instead, or null when the query goes through unchanged.</param>
/// <param name="Refused">The refusal applied, if a statement was refused.</param>
/// <param name="Commits">True when the text (up to a refusal) contains COMMIT.</param>
/// <param name="CommitTurnedIntoRollback">True when a COMMIT was replaced by ROLLBACK (the transaction lost a conflict).</param>
internal readonly record struct RewriteResult(string? Text, DsqlRejection? Refused, bool Commits, bool CommitTurnedIntoRollback = false);

/// <summary>
/// Applies the analyzer's verdicts (<see cref="SqlAnalyzer.Analyze"/>) and DSQL's transaction rules to a query text
/// before it reaches the backend. A refused statement becomes a call of the backend's raise helper so that the
/// backend's transaction state stays exact: statements before it are kept, what follows is dropped (it would not run
/// after the error anyway). DSQL's <c>CREATE INDEX ASYNC</c> loses its ASYNC keyword (PostgreSQL builds synchronously).
/// </summary>
internal sealed class StatementRewriter
{
    /// <summary>The backend function that raises a given SQLSTATE and message.</summary>
    internal const string RaiseFunction = BackendSchema.RaiseFunction;

    private readonly List<StatementInfo> _statements = new();

    private readonly AsyncJobRules? _jobs;

    public StatementRewriter(TransactionRules transactionRules, AsyncJobRules? jobs = null)
    {
        TransactionRules = transactionRules;
        _jobs = jobs;
    }

    /// <summary>The transaction rules this rewriter applies and updates.</summary>
    public TransactionRules TransactionRules { get; }

    /// <summary>The statements of the last text rewritten (valid until the next call).</summary>
    public IReadOnlyList<StatementInfo> Statements => _statements;

    /// <summary>
    /// Rewrites <paramref name="sql"/>. <paramref name="extendedProtocol"/>: the text comes from a Parse message, so a
    /// refusal keeps the statement's parameters (the client's Bind must still match). <paramref name="commitAsRollback"/>:
    /// the transaction lost a write-write conflict, so its COMMIT becomes ROLLBACK (the caller reports DSQL's 40001).
    /// </summary>
    public RewriteResult Rewrite(string sql, bool extendedProtocol, bool commitAsRollback = false)
    {
        SqlAnalyzer.Analyze(sql, _statements);
        StringBuilder? builder = null;
        int copied = 0;
        bool commits = false, turned = false;
        foreach (var statement in _statements)
        {
            if (statement.Kind == StatementKind.Empty) continue;
            var rejection = statement.Rejection ?? TransactionRules.Apply(statement.Kind)
                ?? _jobs?.Check(sql, statement, _statements, TransactionRules.InExplicitTransaction);
            if (rejection is { } refused)
            {
                builder ??= new StringBuilder(sql.Length + 96);
                builder.Append(sql, copied, statement.Start - copied);
                AppendRaise(builder, refused, extendedProtocol ? SqlAnalyzer.MaxParameterIndex(sql) : 0);
                return new RewriteResult(builder.ToString(), refused, commits, turned);
            }
            if (statement.Kind == StatementKind.Commit)
            {
                commits = true;
                if (commitAsRollback)
                {
                    builder ??= new StringBuilder(sql.Length + 8);
                    builder.Append(sql, copied, statement.Start - copied).Append("ROLLBACK");
                    copied = statement.Start + statement.Length;
                    turned = true;
                }
            }
            if (_jobs?.Rewrite(sql, statement) is { } job)
            {
                // CREATE INDEX ASYNC / ALTER TABLE ASYNC ... VALIDATE: submitted as a job that returns its job_id.
                builder ??= new StringBuilder(sql.Length + 160);
                builder.Append(sql, copied, statement.Start - copied).Append(job);
                copied = statement.Start + statement.Length;
                continue;
            }
            if (_jobs is null && statement.AsyncKeywordStart >= 0)
            {
                // Without a job runner (unit tests of the rewriter alone) the index is built synchronously.
                builder ??= new StringBuilder(sql.Length);
                builder.Append(sql, copied, statement.AsyncKeywordStart - copied);
                copied = statement.AsyncKeywordStart + "ASYNC".Length;
            }
            if (statement.Edits is { } edits)
            {
                builder ??= new StringBuilder(sql.Length + 16);
                foreach (var edit in edits)
                {
                    builder.Append(sql, copied, edit.Offset - copied).Append(edit.Insert);
                    copied = edit.Offset + edit.Remove;
                }
            }
        }
        if (builder is null) return new RewriteResult(null, null, commits);
        builder.Append(sql, copied, sql.Length - copied);
        return new RewriteResult(builder.ToString(), null, commits, turned);
    }

    /// <summary>A statement that makes the backend raise <paramref name="rejection"/>.</summary>
    public static string RaiseStatement(DsqlRejection rejection)
    {
        var builder = new StringBuilder(96);
        AppendRaise(builder, rejection, 0);
        return builder.ToString();
    }

    /// <summary>
    /// Appends a SELECT of the raise helper; with <paramref name="parameterCount"/> &gt; 0 it references $1..$n so that
    /// a Bind carrying that many parameters still matches the statement.
    /// </summary>
    public static void AppendRaise(StringBuilder builder, DsqlRejection rejection, int parameterCount)
    {
        builder.Append("SELECT ").Append(RaiseFunction).Append("('").Append(rejection.SqlState).Append("', '")
            .Append(rejection.Message.Replace("'", "''", StringComparison.Ordinal)).Append("')");
        if (parameterCount <= 0) return;
        builder.Append(" FROM (SELECT ");
        for (int i = 1; i <= parameterCount; i++)
        {
            if (i > 1) builder.Append(", ");
            builder.Append('$').Append(i.ToString(CultureInfo.InvariantCulture)).Append("::text");
        }
        builder.Append(") AS dsql_emulator_parameters");
    }
}
