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

/// <summary>
/// One client connection: the startup handshake (<see cref="StartupHandshake"/>) and then the proxy between the
/// client and its own backend session, applying DSQL's rules (<see cref="Rules"/>) on the way through.
/// </summary>
/// <remarks>
/// Two pumps run per session. The client pump reads client messages, has <see cref="StatementRewriter"/> turn what
/// DSQL refuses into a call of the backend's raise helper (so the backend's transaction state stays exact), and
/// forwards. The backend pump forwards answers, with <see cref="ErrorTranslator"/> turning PostgreSQL's conflict and
/// cancel errors into DSQL's. Each request group (a Query, or messages up to a Sync) gets an entry in
/// <see cref="_groups"/> so the backend pump knows which answers belong to the emulator's own injected statements.
/// </remarks>
internal sealed partial class ClientSession
{
    private const byte StatusIdle = (byte)'I';
    private const byte StatusInTransaction = (byte)'T';

    private readonly SessionServices _services;
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentQueue<RequestGroup> _groups = new();
    private readonly StartupHandshake _handshake;
    private readonly StatementRewriter _rewriter;
    private readonly AsyncJobRules _asyncJobs;
    private readonly AgeSupervision _age;

    private PgMessageReader? _clientReader;
    private PgMessageWriter? _clientWriter;
    private BackendConnection? _backend;
    private bool _holdingBackendLock;
    private bool _holdingClientLock;

    // Backend truth, written by the backend pump.
    private volatile byte _status = StatusIdle;
    private long _transactionStartTicks;

    // The client pump's request group.
    private bool _groupOpen;
    private GroupState _group = new();

    // Conflicts at COMMIT: statements the client prepared, and the state of a transaction that lost a conflict.
    private const string ConflictSavepoint = "dsql_emulator_conflict";
    private string? _freshBegin; // the BEGIN that opened the transaction, while nothing else has run in it
    private PreparedDml? _unnamedStatement;
    private Dictionary<string, PreparedDml>? _namedStatements;
    private volatile bool _doomed;
    private volatile bool _schemaChanged;
    private volatile string? _commitFailure; // DSQL's message for the COMMIT turned into ROLLBACK
    private long _transactionSchemaEpoch;

    // Fault injection: the backend's answer to the COMMIT in flight is dropped and the session cut.
    private volatile bool _cutOnCommitAnswer;

    // Fault injection, the endpoint's outage: the request group being read is answered XX000 instead of run; the
    // answer to the COMMIT (or the ROLLBACK standing in for it) in flight is replaced by XX000; the session is cut.
    private bool _failingGroup;
    private volatile bool _commitAnsweredUnavailable;
    private int _cutByOutage;

    public ClientSession(SessionServices services, EndpointListener listener, Socket socket, long id)
    {
        _services = services;
        _socket = socket;
        Id = id;
        _logger = services.Logger;
        ConnectedAt = services.Clock.GetUtcNow();
        _handshake = new StartupHandshake(services, listener, socket, id);
        _age = new AgeSupervision(services.Options.MaxConnectionAge, services.Options.MaxTransactionAge);
        _asyncJobs = new AsyncJobRules(services.Jobs);
        _rewriter = new StatementRewriter(new TransactionRules(), _asyncJobs);
    }

    private enum GroupKind
    {
        /// <summary>The client's request group.</summary>
        Client,
        /// <summary>The emulator's own statement (savepoint, age abort): answers are filtered out.</summary>
        Injected,
        /// <summary>The emulator answering for a client statement that lost a conflict: answers are turned into the statement's.</summary>
        Recovery,
        /// <summary>The emulator checking, before a COMMIT, whether a table the transaction used changed shape (OC001).</summary>
        SchemaCheck,
        /// <summary>
        /// The emulator failing a client's request group for its endpoint's outage: only the error (as XX000) and
        /// ReadyForQuery reach the client.
        /// </summary>
        Unavailable,
    }

    private readonly record struct RequestGroup(GroupKind Kind, long StartTicks, ConflictGuard? Guard = null, SchemaProbe? Probe = null, bool Ddl = false)
    {
        public bool Injected => Kind is not (GroupKind.Client or GroupKind.Unavailable);
    }

    /// <summary>The answer of a <see cref="SchemaChangeCheck"/>.</summary>
    private sealed class SchemaProbe
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Changed { get; set; }
    }

    /// <summary>The client pump's view of the request group it is forwarding.</summary>
    private sealed class GroupState
    {
        public bool First;
        public bool Ddl;
        public bool Guarded;
        public bool Flushed;
        public int Binds;
        public int Executes;
        public string? BindPortal;
        public string? ExecutePortal;
        public PreparedDml? BoundStatement;
        public byte[]? BindParameters;
        public ConflictReplay? QueryReplay;
        public string? RestartWith;

        /// <summary>Starts a new group (the object is reused: one per session, no allocation per request).</summary>
        public void Reset()
        {
            (First, Ddl, Guarded, Flushed, Binds, Executes) = (true, false, false, false, 0, 0);
            (BindPortal, ExecutePortal, BoundStatement, BindParameters, QueryReplay, RestartWith) = (null, null, null, null, null, null);
        }
    }

    public long Id { get; }
    public DateTimeOffset ConnectedAt { get; }
    public string? User => _handshake.User;
    public int FrontendProcessId => _handshake.FrontendProcessId;
    public int FrontendSecretKey => _handshake.FrontendSecretKey;
    public bool IsProxying { get; private set; }
    public EndpointListener Endpoint => _handshake.Endpoint;

    public async Task RunAsync()
    {
        var options = _services.Options;
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
            handshake.CancelAfter(options.HandshakeTimeout);
            if (!await _handshake.RunAsync(() => _services.Registry.RegisterCancelKey(this), handshake.Token).ConfigureAwait(false)) return;
            (_clientReader, _clientWriter, _backend) = (_handshake.Reader, _handshake.Writer, _handshake.Backend);
            IsProxying = true;
            if (Endpoint.Faults.CutIfOutage(this) is { } cut)
            {
                await cut.ConfigureAwait(false); // its endpoint began cutting sessions while this one was opening
                return;
            }
            await _clientWriter!.FlushAsync(handshake.Token).ConfigureAwait(false);
            await ProxyAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            // Closed by the emulator (age cap, fault injection, shutdown).
        }
        catch (OperationCanceledException)
        {
            Log.HandshakeTimedOut(_logger, Id, options.HandshakeTimeout.TotalSeconds);
        }
        catch (Exception ex) when (ex is IOException or SocketException or AuthenticationException or PgProtocolException or ObjectDisposedException or InvalidOperationException)
        {
            Log.SessionEnded(_logger, Id, ex.GetType().Name, ex.Message);
        }
        finally
        {
            await CleanupAsync().ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- proxy

    private async Task ProxyAsync()
    {
        var token = _closing.Token;
        var clientPump = PumpClientAsync(token);
        var backendPump = PumpBackendAsync(token);
        var first = await Task.WhenAny(clientPump, backendPump).ConfigureAwait(false);
        // Either side ending ends the session; the other pump stops when its stream is closed.
        _closing.Cancel();
        _backend!.Socket.Dispose();
        _socket.Dispose();
        try
        {
            await Task.WhenAll(clientPump, backendPump).ConfigureAwait(false);
        }
        catch (Exception) when (first.IsCompletedSuccessfully || _closing.IsCancellationRequested)
        {
            // The second pump fails on the closed stream; that is the expected way for it to end.
        }
    }

    private async Task PumpClientAsync(CancellationToken cancellationToken)
    {
        var reader = _clientReader!;
        var writer = _backend!.Writer;
        Func<ValueTask> flush = FlushToBackendAsync;
        while (true)
        {
            var message = await reader.ReadAsync(flush, cancellationToken).ConfigureAwait(false);
            if (message.IsEnd) return;
            if (!_holdingBackendLock)
            {
                await writer.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
                _holdingBackendLock = true;
            }
            if (!_groupOpen && Endpoint.Faults.FailsStatements && StartsFailableGroup(message) && Endpoint.Faults.FailStatement())
            {
                Log.StatementFailedByOutage(_logger, Id, Endpoint.Host);
                if (message.Type == PgConstants.Query && _rewriter.TransactionRules.InExplicitTransaction && IsPlainCommit(message.Body))
                {
                    _commitAnsweredUnavailable = true;
                    if (Endpoint.Faults.CommitOutcome == UnavailableCommitOutcome.NotCommitted)
                    {
                        // The COMMIT becomes a ROLLBACK whose answer the client sees as XX000.
                        StartGroupIfNeeded();
                        Rewrite("ROLLBACK", extendedProtocol: false, out _);
                        writer.BeginMessage(PgConstants.Query);
                        writer.WriteCString("ROLLBACK");
                        writer.EndMessage();
                        EndGroup();
                        continue;
                    }
                    // Committed: the COMMIT goes through below and its answer is replaced.
                }
                else
                {
                    _failingGroup = true;
                    StartGroupIfNeeded();
                    _freshBegin = null;
                }
            }
            if (_failingGroup)
            {
                // The group is dropped up to its end (as PostgreSQL skips to Sync after an error), and then the backend
                // raises XX000 in its place: a transaction in progress is aborted, the client gets the error and ReadyForQuery.
                if (message.Type is PgConstants.Query or PgConstants.Sync or PgConstants.FunctionCall)
                {
                    writer.BeginMessage(PgConstants.Query);
                    writer.WriteCString(StatementRewriter.RaiseStatement(new(PgConstants.InternalError, DsqlMessages.ServerUnavailable)));
                    writer.EndMessage();
                    EndGroup(GroupKind.Unavailable);
                    _failingGroup = false;
                }
                else if (message.Type == PgConstants.Terminate)
                {
                    writer.WriteRaw(message.Raw.Span);
                    await FlushToBackendAsync().ConfigureAwait(false);
                    return;
                }
                continue;
            }
            ConflictGuard? guard = null;
            switch (message.Type)
            {
                case PgConstants.Query:
                    StartGroupIfNeeded();
                    if (CommitCutDue(message.Body) is { } cut)
                    {
                        Log.SessionCutAtCommit(_logger, Id, cut.ToString());
                        if (cut == CommitCutPoint.BeforeCommit)
                        {
                            Close(); // the COMMIT is dropped: the backend session ends and rolls the transaction back
                            return;
                        }
                        _cutOnCommitAnswer = true;
                    }
                    if (SchemaCheckDue() && IsPlainCommit(message.Body))
                        await CheckSchemaAsync(writer, cancellationToken).ConfigureAwait(false);
                    ForwardQuery(message, writer);
                    guard = EndGroup();
                    break;
                case PgConstants.Parse:
                    StartGroupIfNeeded();
                    if (_group.First && SchemaCheckDue() && IsPlainCommit(ParseQuery(message.Body)))
                        await CheckSchemaAsync(writer, cancellationToken).ConfigureAwait(false);
                    ForwardParse(message, writer);
                    break;
                case PgConstants.Bind:
                    StartGroupIfNeeded();
                    ForwardBind(message, writer);
                    break;
                case PgConstants.Execute:
                    StartGroupIfNeeded();
                    if (_group.Guarded) NoteExecute(message);
                    _group.First = false;
                    _freshBegin = null;
                    writer.WriteRaw(message.Raw.Span);
                    break;
                case PgConstants.Sync:
                case PgConstants.FunctionCall:
                    StartGroupIfNeeded();
                    if (message.Type == PgConstants.FunctionCall) _freshBegin = null;
                    writer.WriteRaw(message.Raw.Span);
                    guard = EndGroup();
                    break;
                case PgConstants.Terminate:
                    writer.WriteRaw(message.Raw.Span);
                    await FlushToBackendAsync().ConfigureAwait(false);
                    return;
                default:
                    if (message.Type == PgConstants.Flush) _group.Flushed = true;
                    else if (_groupOpen) _group.First = false;
                    writer.WriteRaw(message.Raw.Span);
                    break;
            }
            if (guard is not null)
            {
                // The backend pump may have to roll the statement back and answer for it: nothing else may reach the
                // backend until it has.
                await FlushToBackendAsync().ConfigureAwait(false);
                await guard.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask FlushToBackendAsync()
    {
        if (!_holdingBackendLock) return;
        try
        {
            var latency = _services.Faults.Latency;
            if (latency > TimeSpan.Zero) await Task.Delay(latency, _closing.Token).ConfigureAwait(false);
            await _backend!.Writer.FlushAsync(_closing.Token).ConfigureAwait(false);
        }
        finally
        {
            _holdingBackendLock = false;
            _backend!.Writer.Lock.Release();
        }
    }

    private void StartGroupIfNeeded()
    {
        if (_groupOpen) return;
        _groupOpen = true;
        _group.Reset();
        // The backend is idle with nothing in flight: its status is the truth for the transaction rules.
        if (_groups.IsEmpty && _status == StatusIdle) _rewriter.TransactionRules.Reset();
        if (!_rewriter.TransactionRules.InExplicitTransaction)
        {
            _transactionSchemaEpoch = _services.Schema.Epoch;
            _schemaChanged = false;
        }
    }

    /// <summary>
    /// True for the first message of a request group that an endpoint outage may fail: a query (but not an empty one or
    /// a plain ROLLBACK, which is let through so the client can end an aborted transaction), or an extended-protocol
    /// statement. A lone Sync is not a statement.
    /// </summary>
    private static bool StartsFailableGroup(PgMessage message)
    {
        switch (message.Type)
        {
            case PgConstants.Query:
                var text = message.Body.TrimEnd((byte)0).Trim(" \t\r\n;"u8);
                return text.Length > 0 && !Ascii.EqualsIgnoreCase(text, "ROLLBACK"u8) && !Ascii.EqualsIgnoreCase(text, "ABORT"u8);
            case PgConstants.Parse:
            case PgConstants.Bind:
            case PgConstants.Execute:
            case PgConstants.FunctionCall:
                return true;
            default:
                return false;
        }
    }

    /// <summary>Marks the session as cut by its endpoint's outage; false when it was already.</summary>
    public bool TryMarkCut() => Interlocked.Exchange(ref _cutByOutage, 1) == 0;

    /// <summary>Where to cut this session, when it sends a COMMIT inside a transaction and a commit cut is armed (fault injection).</summary>
    private CommitCutPoint? CommitCutDue(ReadOnlySpan<byte> queryBody)
        => _rewriter.TransactionRules.InExplicitTransaction && IsPlainCommit(queryBody) ? _services.Faults.TakeCommitCut() : null;

    /// <summary>True when a DDL has completed since the transaction began (and nothing has doomed it already).</summary>
    private bool SchemaCheckDue() =>
        !_doomed && !_schemaChanged && _rewriter.TransactionRules.InExplicitTransaction && _transactionSchemaEpoch != _services.Schema.Epoch;

    /// <summary>The query text of a Parse message (empty if malformed).</summary>
    private static ReadOnlySpan<byte> ParseQuery(ReadOnlySpan<byte> parseBody)
    {
        int nameEnd = parseBody.IndexOf((byte)0);
        if (nameEnd < 0) return default;
        var rest = parseBody[(nameEnd + 1)..];
        int queryEnd = rest.IndexOf((byte)0);
        return queryEnd < 0 ? default : rest[..queryEnd];
    }

    private static bool IsPlainCommit(ReadOnlySpan<byte> queryBody)
    {
        var text = queryBody.TrimEnd((byte)0).Trim(" \t\r\n;"u8);
        return text.Length is 3 or 6 && (Ascii.EqualsIgnoreCase(text, "COMMIT"u8) || Ascii.EqualsIgnoreCase(text, "END"u8));
    }

    /// <summary>
    /// Runs the <see cref="SchemaChangeCheck"/> inside the transaction before its COMMIT is forwarded; a table that
    /// changed shape makes the COMMIT fail with OC001.
    /// </summary>
    private async Task CheckSchemaAsync(PgMessageWriter writer, CancellationToken cancellationToken)
    {
        var probe = new SchemaProbe();
        _groups.Enqueue(new RequestGroup(GroupKind.SchemaCheck, _services.Clock.GetUtcNow().UtcTicks, Probe: probe));
        writer.BeginMessage(PgConstants.Query);
        writer.WriteCString(SchemaChangeCheck.Sql);
        writer.EndMessage();
        await FlushToBackendAsync().ConfigureAwait(false);
        await probe.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await writer.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        _holdingBackendLock = true;
        if (probe.Changed) _schemaChanged = true;
    }

    /// <summary>Closes the request group; returns its conflict guard when the backend pump may have to answer for it.</summary>
    private ConflictGuard? EndGroup(GroupKind kind = GroupKind.Client)
    {
        _groupOpen = false;
        var group = _group;
        ConflictGuard? guard = null;
        if (group.Guarded)
        {
            if (group.QueryReplay is { } replay) guard = new ConflictGuard(replay, null, null, group.RestartWith);
            else if (group.Binds == 1 && group.Executes == 1 && !group.Flushed && group.BoundStatement?.Replay is { } bound
                     && string.Equals(group.BindPortal, group.ExecutePortal, StringComparison.Ordinal))
                guard = new ConflictGuard(bound, group.BoundStatement.ParameterTypes, group.BindParameters, group.RestartWith);
        }
        _groups.Enqueue(new RequestGroup(kind, _services.Clock.GetUtcNow().UtcTicks, guard, Ddl: group.Ddl));
        _rewriter.TransactionRules.EndRequestGroup();
        return guard;
    }

    private async Task PumpBackendAsync(CancellationToken cancellationToken)
    {
        var reader = _backend!.Reader;
        var writer = _clientWriter!;
        Func<ValueTask> flush = FlushToClientAsync;
        while (true)
        {
            var message = await reader.ReadAsync(flush, cancellationToken).ConfigureAwait(false);
            if (message.IsEnd) return;
            bool hasGroup = _groups.TryPeek(out var group);
            if (hasGroup && group.Kind == GroupKind.SchemaCheck)
            {
                if (message.Type == PgConstants.DataRow) group.Probe!.Changed = true;
                else if (message.Type == PgConstants.ReadyForQuery)
                {
                    _groups.TryDequeue(out _);
                    OnReadyForQuery(message.Body[0], group);
                    group.Probe!.Completion.TrySetResult();
                }
                continue;
            }
            if (hasGroup && group.Guard is { } guard)
            {
                if (group.Kind == GroupKind.Recovery)
                {
                    await OnRecoveryAnswerAsync(message, guard, group, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (guard.Withheld is not null)
                {
                    // The statement lost a conflict: its answers wait until it has been rolled back and answered for.
                    if (message.Type == PgConstants.ReadyForQuery)
                    {
                        _groups.TryDequeue(out _);
                        OnReadyForQuery(message.Body[0], group);
                        await StartRecoveryAsync(guard, cancellationToken).ConfigureAwait(false);
                    }
                    continue;
                }
                if (message.Type == PgConstants.ErrorResponse)
                {
                    var fields = PgErrorFields.Parse(message.Body);
                    if (ErrorTranslator.IsConflict(fields))
                    {
                        guard.Withheld = fields;
                        continue;
                    }
                }
            }
            if (hasGroup && group.Kind == GroupKind.Unavailable && message.Type is not (PgConstants.ErrorResponse or PgConstants.ReadyForQuery))
                continue; // the raise's row description: the client's statements never ran
            bool injected = hasGroup && group.Kind is not (GroupKind.Client or GroupKind.Unavailable);
            if (message.Type == PgConstants.ReadyForQuery)
            {
                _groups.TryDequeue(out _);
                OnReadyForQuery(message.Body[0], group);
                if (group.Ddl) _services.Schema.OnDdlCompleted();
                if (injected) continue;
                // The end of a transaction that submitted an async job waits until the job's object is in the catalog.
                await _asyncJobs.BeforeReadyForQueryAsync(message.Body[0], flush, cancellationToken).ConfigureAwait(false);
            }
            else if (injected)
            {
                continue; // answers to the emulator's own statements are not the client's business
            }
            if (_cutOnCommitAnswer && message.Type is PgConstants.CommandComplete or PgConstants.ErrorResponse)
            {
                Close(); // the backend has answered the COMMIT; the client never learns how
                return;
            }
            if (!_holdingClientLock)
            {
                await writer.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
                _holdingClientLock = true;
            }
            if (_commitAnsweredUnavailable && message.Type == PgConstants.CommandComplete
                && (message.Body.StartsWith("COMMIT"u8) || message.Body.StartsWith("ROLLBACK"u8)))
            {
                // A COMMIT failed by the endpoint's outage: the client learns XX000, whatever the backend did.
                _commitAnsweredUnavailable = false;
                _commitFailure = null;
                _age.TakeCommitPending();
                PgErrorFields.Create("ERROR", PgConstants.InternalError, DsqlMessages.ServerUnavailable).WriteTo(writer, PgConstants.ErrorResponse);
            }
            else if (_asyncJobs.TryRewrite(message, writer))
            {
                // A job submission's marker notice or command tag, answered as DSQL does.
            }
            else if (message.Type == PgConstants.ErrorResponse && hasGroup && group.Kind == GroupKind.Unavailable)
            {
                // XX000 whatever the backend said (in an aborted transaction it answers 25P02 before raising anything).
                PgErrorFields.Create("ERROR", PgConstants.InternalError, DsqlMessages.ServerUnavailable).WriteTo(writer, PgConstants.ErrorResponse);
            }
            else if (message.Type == PgConstants.ErrorResponse) WriteError(message, writer);
            else if (message.Type == PgConstants.CommandComplete && message.Body.StartsWith("ROLLBACK"u8) && _age.TakeCommitPending())
            {
                // COMMIT of a transaction the age limit ended: say so instead of a silent ROLLBACK.
                PgErrorFields.Create("ERROR", PgConstants.ProgramLimitExceeded, DsqlMessages.TransactionAge(_age.MaxTransactionAge)).WriteTo(writer, PgConstants.ErrorResponse);
            }
            else if (message.Type == PgConstants.CommandComplete && _commitFailure is { } failure && message.Body.StartsWith("ROLLBACK"u8))
            {
                // COMMIT of a transaction that lost a write-write conflict or whose tables changed shape: DSQL's answer, at COMMIT.
                _commitFailure = null;
                if (ReferenceEquals(failure, DsqlMessages.SchemaChangedOc001)) _services.Conflicts.CountSchemaChanged();
                else _services.Conflicts.CountAtCommit();
                PgErrorFields.Create("ERROR", PgConstants.SerializationFailure, failure).WriteTo(writer, PgConstants.ErrorResponse);
            }
            else writer.WriteRaw(message.Raw.Span);
            if (message.Type == PgConstants.ReadyForQuery) group.Guard?.Completion.TrySetResult();
        }
    }

    private async ValueTask FlushToClientAsync()
    {
        if (!_holdingClientLock) return;
        try
        {
            await _clientWriter!.FlushAsync(_closing.Token).ConfigureAwait(false);
        }
        finally
        {
            _holdingClientLock = false;
            _clientWriter!.Lock.Release();
        }
    }

    private void OnReadyForQuery(byte status, RequestGroup group)
    {
        byte previous = _status;
        if (previous == StatusIdle && status != StatusIdle) Interlocked.Exchange(ref _transactionStartTicks, group.StartTicks);
        _status = status;
        if (status == StatusIdle)
        {
            _age.OnIdle();
            _doomed = false;
        }
    }

    private void WriteError(PgMessage message, PgMessageWriter writer)
    {
        var fields = PgErrorFields.Parse(message.Body);
        if (ErrorTranslator.IsConflict(fields))
        {
            if (_status == StatusIdle) _services.Conflicts.CountAutocommit();
            else _services.Conflicts.CountAtStatement();
        }
        TimeSpan? ageLimit = _age.TakeAgeError(fields.SqlState) ? _age.MaxTransactionAge : null;
        if (ErrorTranslator.Translate(fields, ageLimit)) fields.WriteTo(writer, PgConstants.ErrorResponse);
        else writer.WriteRaw(message.Raw.Span);
    }
}
