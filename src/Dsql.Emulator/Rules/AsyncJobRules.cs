using System.Text;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Protocol;
using Dsql.Emulator.Sql;

namespace Dsql.Emulator.Rules;

/// <summary>
/// One session's part in DSQL's asynchronous DDL jobs. On the way to the backend it turns
/// <c>CREATE INDEX ASYNC</c> and <c>ALTER TABLE ASYNC ... VALIDATE CONSTRAINT</c> into a job submission that
/// returns a <c>job_id</c>, refuses <c>CALL sys.wait_for_job</c> inside a transaction block, answers 55000 for a
/// constraint over an index still being built, and has <c>DROP INDEX</c> (or <c>DROP TABLE</c>) cancel a build. On the way back it gives
/// the submission DSQL's command tag and holds the end of the submitting transaction until the runner has the
/// index in the catalog.
/// </summary>
/// <remarks>The client-side methods are called by the client pump, the backend-side ones by the backend pump.</remarks>
internal sealed class AsyncJobRules(JobRunner? runner)
{
    /// <summary>SQLSTATE 55000, object not in prerequisite state.</summary>
    public const string ObjectNotInPrerequisiteState = "55000";

    /// <summary>
    /// DSQL refuses the procedure inside a transaction block with 0A000 (a client library's notes, 2026); the
    /// wording here is the emulator's own, as no recorded message was found.
    /// </summary>
    public const string WaitForJobInTransaction = "sys.wait_for_job cannot run inside a transaction block";

    private readonly List<string> _submitted = new();
    private string? _pendingTag;

    /// <summary>PostgreSQL's wording, which DSQL answers with 55000 for an index whose build has not finished.</summary>
    public static string IndexNotValid(string index) => $"index \"{index}\" is not valid";

    // ---------------------------------------------------------------- client side

    /// <summary>
    /// DSQL's refusal of <paramref name="statement"/> as far as jobs are concerned, or null. A <c>DROP INDEX</c> of
    /// an index being built cancels the build here. <paramref name="statements"/> are all the statements of the
    /// query text: several make one implicit transaction block.
    /// </summary>
    public DsqlRejection? Check(string sql, StatementInfo statement, List<StatementInfo> statements, bool inTransactionBlock)
    {
        if (statement.Kind is not (StatementKind.Ddl or StatementKind.Other)) return null;
        var ddl = AsyncDdl.Parse(sql, statement);
        switch (ddl.Kind)
        {
            case AsyncDdlKind.CallWaitForJob when inTransactionBlock || CountStatements(statements) > 1:
                return new DsqlRejection(PgConstants.FeatureNotSupported, WaitForJobInTransaction);
            case AsyncDdlKind.AddConstraintUsingIndex when runner is not null:
                foreach (var name in ddl.Names)
                    if (runner.IsIndexBuildUnfinished(name.Schema, name.Name))
                        return new DsqlRejection(ObjectNotInPrerequisiteState, IndexNotValid(name.Name));
                return null;
            case AsyncDdlKind.DropIndex when runner is not null:
                foreach (var name in ddl.Names) runner.CancelIndexBuilds(name.Schema, name.Name);
                return null;
            case AsyncDdlKind.DropTable when runner is not null:
                foreach (var name in ddl.Names) runner.CancelJobsOnTable(name.Schema, name.Name);
                return null;
            default:
                return null;
        }
    }

    private static int CountStatements(List<StatementInfo> statements)
    {
        int count = 0;
        foreach (var s in statements)
            if (s.Kind != StatementKind.Empty) count++;
        return count;
    }

    /// <summary>The text to send instead of <paramref name="statement"/>, or null to send it as it is.</summary>
    public string? Rewrite(string sql, StatementInfo statement)
    {
        if (statement.Kind != StatementKind.Ddl) return null;
        var ddl = AsyncDdl.Parse(sql, statement);
        string jobType;
        string replacementKeyword;
        switch (ddl.Kind)
        {
            case AsyncDdlKind.CreateIndexAsync:
                (jobType, replacementKeyword) = (JobsSchema.IndexBuild, "CONCURRENTLY");
                break;
            case AsyncDdlKind.AlterTableAsyncValidate:
                (jobType, replacementKeyword) = (JobsSchema.ValidateConstraint, "");
                break;
            default:
                return null;
        }
        string text = statement.GetText(sql);
        string job = string.Concat(text.AsSpan(0, ddl.AsyncStart), replacementKeyword, text.AsSpan(ddl.AsyncStart + ddl.AsyncLength));
        var builder = new StringBuilder(job.Length + 160);
        builder.Append("SELECT ").Append(JobsSchema.SubmitFunction).Append("('").Append(jobType).Append("', ");
        AppendLiteral(builder, job).Append(", ");
        AppendLiteral(builder, ddl.TableText!).Append("::regclass, ");
        AppendLiteral(builder, ddl.Names.Length > 0 ? ddl.Names[0].Name : "").Append(", current_setting('search_path'), ");
        AppendLiteral(builder, runner?.Id ?? "").Append(") AS job_id");
        return builder.ToString();
    }

    private static StringBuilder AppendLiteral(StringBuilder builder, string value)
        => builder.Append('\'').Append(value.Replace("'", "''", StringComparison.Ordinal)).Append('\'');

    // ---------------------------------------------------------------- backend side

    /// <summary>
    /// Handles a backend message that concerns jobs: swallows the submission's marker notice, gives the submission
    /// DSQL's command tag. Returns true when the message was handled (written or dropped).
    /// </summary>
    public bool TryRewrite(PgMessage message, PgMessageWriter writer)
    {
        switch (message.Type)
        {
            case PgConstants.NoticeResponse:
                var fields = PgErrorFields.Parse(message.Body);
                if (fields.SqlState != JobsSchema.MarkerSqlState) return false;
                string marker = fields.Message;
                int space = marker.LastIndexOf(' ');
                if (space <= 0) return false;
                _pendingTag = marker[..space];
                if (space < marker.Length - 1) _submitted.Add(marker[(space + 1)..]); // no id: a tag only (a SHOW answered by the emulator)
                return true;
            case PgConstants.CommandComplete when _pendingTag is not null:
                writer.BeginMessage(PgConstants.CommandComplete);
                writer.WriteCString(_pendingTag);
                writer.EndMessage();
                _pendingTag = null;
                return true;
            case PgConstants.ErrorResponse:
                _pendingTag = null;
                return false;
            default:
                return false;
        }
    }

    /// <summary>
    /// Called before a ReadyForQuery goes to the client. When the transaction that submitted jobs has ended,
    /// waits (after flushing what is buffered) until the runner has started them, so that an index is in the
    /// catalog when the client learns its transaction committed, as on DSQL.
    /// </summary>
    public async ValueTask BeforeReadyForQueryAsync(byte status, Func<ValueTask> flush, CancellationToken cancellationToken)
    {
        _pendingTag = null;
        if (status != (byte)'I' || _submitted.Count == 0) return;
        string[] jobs = [.. _submitted];
        _submitted.Clear();
        if (runner is null) return;
        await flush().ConfigureAwait(false);
        await runner.AwaitStartedAsync(jobs, cancellationToken).ConfigureAwait(false);
    }
}
