using System.Globalization;
using System.Buffers.Binary;
using System.Text;
using Dsql.Emulator.Protocol;
using Dsql.Emulator.Rules;
using Dsql.Emulator.Sql;

namespace Dsql.Emulator.Front;

/// <summary>Conflicts at COMMIT: the statements a session protects with a savepoint, and the recovery of one that lost.</summary>
internal sealed partial class ClientSession
{
    /// <summary>A prepared statement that is one DML statement: how to answer it if it loses a conflict.</summary>
    private sealed class PreparedDml(ConflictReplay? replay)
    {
        public ConflictReplay? Replay { get; } = replay;
        public byte[]? ParameterTypes { get; set; }
    }

    /// <summary>
    /// A DML statement inside an explicit transaction, protected by a savepoint: if it loses a write-write conflict the
    /// backend pump withholds the error, rolls back to the savepoint, answers as DSQL would have and dooms the
    /// transaction, whose COMMIT then fails with 40001 OC000. <see cref="RestartWith"/>: the statement was the first of
    /// its transaction and ran without a savepoint; the recovery rolls the transaction back and opens it again with this
    /// BEGIN instead.
    /// </summary>
    private sealed class ConflictGuard(ConflictReplay replay, byte[]? parameterTypes, byte[]? bindParameters, string? restartWith)
    {
        public string? RestartWith { get; } = restartWith;
        public ConflictReplay Replay { get; } = replay;
        public byte[]? ParameterTypes { get; } = parameterTypes;
        public byte[]? BindParameters { get; } = bindParameters;
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public PgErrorFields? Withheld { get; set; }
        public long? Rows { get; set; }
        public bool RecoveryFailed { get; set; }
    }

    /// <summary>The parameter formats and values of a Bind (what follows the statement name, up to the result formats).</summary>
    private static byte[]? BindParameterSection(ReadOnlySpan<byte> rest)
    {
        try
        {
            int at = 0;
            int formats = BinaryPrimitives.ReadInt16BigEndian(rest);
            at += 2 + 2 * formats;
            int values = BinaryPrimitives.ReadInt16BigEndian(rest[at..]);
            at += 2;
            for (int i = 0; i < values; i++)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(rest[at..]);
                at += 4 + Math.Max(0, length);
            }
            return rest[..at].ToArray();
        }
        catch (ArgumentOutOfRangeException)
        {
            return null; // malformed: the backend refuses the Bind itself
        }
    }

    private void RememberStatement(ReadOnlySpan<byte> name, PreparedDml? dml)
    {
        if (name.IsEmpty)
        {
            _unnamedStatement = dml;
            return;
        }
        if (dml is null && _namedStatements is null) return;
        _namedStatements ??= new Dictionary<string, PreparedDml>(StringComparer.Ordinal);
        string key = Encoding.UTF8.GetString(name);
        if (dml is null) _namedStatements.Remove(key);
        else _namedStatements[key] = dml;
    }

    private PreparedDml? FindStatement(ReadOnlySpan<byte> name) =>
        _namedStatements is not null && _namedStatements.TryGetValue(Encoding.UTF8.GetString(name), out var dml) ? dml : null;

    /// <summary>
    /// Protects a DML statement of an explicit transaction so that a conflict it loses can be answered at COMMIT. The
    /// first statement after the BEGIN needs no savepoint (the recovery opens the transaction again, which has nothing
    /// to lose); any later one gets a savepoint to roll back to. Saving the savepoint matters: it is a subtransaction
    /// on the backend, and single-statement transactions are the common case.
    /// </summary>
    private void ProtectStatement(PgMessageWriter writer)
    {
        if (_freshBegin is { } begin)
        {
            _group.Guarded = true;
            _group.RestartWith = begin;
            return;
        }
        InjectSavepoint(writer);
    }

    /// <summary>The text of a query that is exactly one BEGIN / START TRANSACTION, or null.</summary>
    private string? LoneBegin(string sql)
    {
        string? begin = null;
        foreach (var statement in _rewriter.Statements)
        {
            if (statement.Kind == StatementKind.Empty) continue;
            if (begin is not null || statement.Kind != StatementKind.Begin) return null;
            begin = statement.GetText(sql);
        }
        return begin;
    }

    /// <summary>Takes the savepoint a conflicting statement is rolled back to; its answers are filtered out.</summary>
    private void InjectSavepoint(PgMessageWriter writer)
    {
        _groups.Enqueue(new RequestGroup(GroupKind.Injected, _services.Clock.GetUtcNow().UtcTicks));
        _services.Conflicts.CountSavepoint();
        writer.BeginMessage(PgConstants.Query);
        writer.WriteCString("SAVEPOINT " + ConflictSavepoint);
        writer.EndMessage();
        _group.Guarded = true;
    }

    /// <summary>When the text is exactly one DML statement: how to answer it if it loses a conflict.</summary>
    private PreparedDml? SingleDml(string sql)
    {
        StatementInfo? single = null;
        int nonEmpty = 0;
        foreach (var statement in _rewriter.Statements)
        {
            if (statement.Kind == StatementKind.Empty) continue;
            nonEmpty++;
            if (statement.Kind == StatementKind.Ddl) _group.Ddl = true;
            else if (statement.Kind == StatementKind.Dml) single = statement;
        }
        if (nonEmpty != 1 || single is null) return null;
        return new PreparedDml(ConflictReplay.TryPlan(single.GetText(sql)));
    }

    /// <summary>Rolls a statement that lost a conflict back to its savepoint and counts what it would have touched.</summary>
    private async Task StartRecoveryAsync(ConflictGuard guard, CancellationToken cancellationToken)
    {
        var writer = _backend!.Writer;
        await writer.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _groups.Enqueue(new RequestGroup(GroupKind.Recovery, _services.Clock.GetUtcNow().UtcTicks, guard));
            if (guard.RestartWith is { } begin)
            {
                // The statement was the transaction's first: nothing else is lost by starting it again.
                WriteUnnamedStatement(writer, "ROLLBACK", null, null);
                WriteUnnamedStatement(writer, begin, null, null);
            }
            else WriteUnnamedStatement(writer, "ROLLBACK TO SAVEPOINT " + ConflictSavepoint, null, null);
            if (guard.Replay.CountSql is { } countSql) WriteUnnamedStatement(writer, countSql, guard.ParameterTypes, guard.BindParameters);
            writer.BeginMessage(PgConstants.Sync);
            writer.EndMessage();
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            writer.Lock.Release();
        }
    }

    private static void WriteUnnamedStatement(PgMessageWriter writer, string sql, byte[]? parameterTypes, byte[]? bindParameters)
    {
        writer.BeginMessage(PgConstants.Parse);
        writer.WriteCString(string.Empty);
        writer.WriteCString(sql);
        if (parameterTypes is null) writer.WriteInt16(0);
        else writer.WriteRaw(parameterTypes);
        writer.EndMessage();
        writer.BeginMessage(PgConstants.Bind);
        writer.WriteCString(string.Empty);
        writer.WriteCString(string.Empty);
        if (bindParameters is null)
        {
            writer.WriteInt16(0);
            writer.WriteInt16(0);
        }
        else writer.WriteRaw(bindParameters);
        writer.WriteInt16(0); // results in text
        writer.EndMessage();
        writer.BeginMessage(PgConstants.Execute);
        writer.WriteCString(string.Empty);
        writer.WriteInt32(0);
        writer.EndMessage();
    }

    private async Task OnRecoveryAnswerAsync(PgMessage message, ConflictGuard guard, RequestGroup group, CancellationToken cancellationToken)
    {
        switch (message.Type)
        {
            case PgConstants.DataRow:
            {
                var body = message.Body;
                int length = BinaryPrimitives.ReadInt32BigEndian(body[2..]);
                if (length > 0 && long.TryParse(Encoding.ASCII.GetString(body.Slice(6, length)), NumberStyles.None, CultureInfo.InvariantCulture, out long rows))
                    guard.Rows = rows;
                return;
            }
            case PgConstants.ErrorResponse:
                guard.RecoveryFailed = true;
                return;
            case PgConstants.ReadyForQuery:
                break;
            default:
                return;
        }
        _groups.TryDequeue(out _);
        OnReadyForQuery(message.Body[0], group);
        var writer = _clientWriter!;
        if (!_holdingClientLock)
        {
            await writer.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
            _holdingClientLock = true;
        }
        long? answer = guard.Replay.Kind == ReplayKind.Insert ? guard.Replay.InsertedRows : guard.Rows;
        if (!guard.RecoveryFailed && answer is { } touched)
        {
            // Answer as DSQL would have, and fail the transaction at its COMMIT.
            _doomed = true;
            writer.BeginMessage(PgConstants.CommandComplete);
            writer.WriteCString(guard.Replay.CommandTag(touched));
            writer.EndMessage();
        }
        else
        {
            // The answer cannot be reproduced: report the conflict at the statement, as before.
            _services.Conflicts.CountAtStatement();
            var fields = guard.Withheld!;
            ErrorTranslator.Translate(fields, null);
            fields.WriteTo(writer, PgConstants.ErrorResponse);
        }
        writer.WriteRaw(message.Raw.Span);
        guard.Completion.TrySetResult();
    }
}
