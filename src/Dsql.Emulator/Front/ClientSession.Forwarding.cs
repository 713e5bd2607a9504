using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Protocol;
using Dsql.Emulator.Rules;
using Dsql.Emulator.Sql;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Front;

internal sealed partial class ClientSession
{
    // The client's statements on their way to the backend: each one rewritten by the DSQL rules and noted for the
    // request group it belongs to.

    private void ForwardQuery(PgMessage message, PgMessageWriter writer)
    {
        var body = message.Body;
        string sql = Encoding.UTF8.GetString(body[..^1]);
        bool idleBefore = _groups.IsEmpty && _status == StatusIdle && !_rewriter.TransactionRules.InExplicitTransaction;
        string? rewritten = Rewrite(sql, extendedProtocol: false, out var dml);
        if (dml?.Replay is { } replay && _rewriter.TransactionRules.InExplicitTransaction)
        {
            ProtectStatement(writer);
            _group.QueryReplay = replay;
        }
        _freshBegin = idleBefore && rewritten is null ? LoneBegin(sql) : null;
        if (rewritten is null)
        {
            writer.WriteRaw(message.Raw.Span);
            return;
        }
        writer.BeginMessage(PgConstants.Query);
        writer.WriteCString(rewritten);
        writer.EndMessage();
    }

    private void ForwardParse(PgMessage message, PgMessageWriter writer)
    {
        var body = message.Body;
        int nameEnd = body.IndexOf((byte)0);
        int queryEnd = nameEnd < 0 ? -1 : body[(nameEnd + 1)..].IndexOf((byte)0);
        if (queryEnd < 0)
        {
            _group.First = false;
            writer.WriteRaw(message.Raw.Span); // malformed: the backend answers it
            return;
        }
        var queryBytes = body.Slice(nameEnd + 1, queryEnd);
        string sql = Encoding.UTF8.GetString(queryBytes);
        string? rewritten = Rewrite(sql, extendedProtocol: true, out var dml);
        var parameterTypes = body[(nameEnd + 1 + queryEnd + 1)..];
        if (dml is not null) dml.ParameterTypes = parameterTypes.ToArray();
        RememberStatement(body[..nameEnd], dml);
        if (_group.First && dml?.Replay is not null && _rewriter.TransactionRules.InExplicitTransaction) ProtectStatement(writer);
        _group.First = false;
        if (rewritten is null)
        {
            writer.WriteRaw(message.Raw.Span);
            return;
        }
        writer.BeginMessage(PgConstants.Parse);
        writer.WriteRaw(body[..(nameEnd + 1)]);
        writer.WriteCString(rewritten);
        writer.WriteRaw(parameterTypes);
        writer.EndMessage();
    }

    private void ForwardBind(PgMessage message, PgMessageWriter writer)
    {
        var body = message.Body;
        int portalEnd = body.IndexOf((byte)0);
        int statementEnd = portalEnd < 0 ? -1 : body[(portalEnd + 1)..].IndexOf((byte)0);
        if (statementEnd >= 0 && (_group.First || _group.Guarded) && _rewriter.TransactionRules.InExplicitTransaction)
        {
            var statementName = body.Slice(portalEnd + 1, statementEnd);
            // A savepoint sent as a simple Query would drop the unnamed statement this Bind is about to use.
            var statement = statementName.IsEmpty ? (_group.First ? null : _unnamedStatement) : FindStatement(statementName);
            if (_group.First && statement?.Replay is not null) ProtectStatement(writer);
            if (_group.Guarded)
            {
                _group.Binds++;
                _group.BindPortal = Encoding.UTF8.GetString(body[..portalEnd]);
                _group.BoundStatement = statement;
                _group.BindParameters = BindParameterSection(body[(portalEnd + 1 + statementEnd + 1)..]);
            }
        }
        _group.First = false;
        writer.WriteRaw(message.Raw.Span);
    }

    private void NoteExecute(PgMessage message)
    {
        var body = message.Body;
        int portalEnd = body.IndexOf((byte)0);
        _group.Executes++;
        _group.ExecutePortal = portalEnd < 0 ? null : Encoding.UTF8.GetString(body[..portalEnd]);
    }

    private string? Rewrite(string sql, bool extendedProtocol, out PreparedDml? dml)
    {
        bool schemaChanged = _schemaChanged;
        var result = _rewriter.Rewrite(sql, extendedProtocol, commitAsRollback: _doomed || schemaChanged);
        dml = null;
        if (result.Refused is { } refused) Log.StatementRefused(_logger, Id, refused.SqlState, refused.Message);
        else dml = SingleDml(sql);
        if (result.Commits) _age.OnCommitSent();
        if (result.CommitTurnedIntoRollback) _commitFailure = schemaChanged ? DsqlMessages.SchemaChangedOc001 : DsqlMessages.ConflictOc000;
        return result.Text;
    }
}
