using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Protocol;
using Dsql.Emulator.Rules;
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
internal sealed class ClientSession
{
    private const byte StatusIdle = (byte)'I';
    private const byte StatusInTransaction = (byte)'T';

    private readonly SessionServices _services;
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentQueue<RequestGroup> _groups = new();
    private readonly StartupHandshake _handshake;
    private readonly StatementRewriter _rewriter = new(new TransactionRules());
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

    public ClientSession(SessionServices services, EndpointListener listener, Socket socket, long id)
    {
        _services = services;
        _socket = socket;
        Id = id;
        _logger = services.Logger;
        ConnectedAt = services.Clock.GetUtcNow();
        _handshake = new StartupHandshake(services, listener, socket, id);
        _age = new AgeSupervision(services.Options.MaxConnectionAge, services.Options.MaxTransactionAge);
    }

    private readonly record struct RequestGroup(bool Injected, long StartTicks);

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
            switch (message.Type)
            {
                case PgConstants.Query:
                    StartGroupIfNeeded();
                    ForwardQuery(message, writer);
                    EndGroup();
                    break;
                case PgConstants.Parse:
                    StartGroupIfNeeded();
                    ForwardParse(message, writer);
                    break;
                case PgConstants.Sync:
                case PgConstants.FunctionCall:
                    StartGroupIfNeeded();
                    writer.WriteRaw(message.Raw.Span);
                    EndGroup();
                    break;
                case PgConstants.Terminate:
                    writer.WriteRaw(message.Raw.Span);
                    await FlushToBackendAsync().ConfigureAwait(false);
                    return;
                default:
                    if (message.Type is PgConstants.Bind or PgConstants.Execute) StartGroupIfNeeded();
                    writer.WriteRaw(message.Raw.Span);
                    break;
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
        // The backend is idle with nothing in flight: its status is the truth for the transaction rules.
        if (_groups.IsEmpty && _status == StatusIdle) _rewriter.TransactionRules.Reset();
    }

    private void EndGroup()
    {
        _groupOpen = false;
        _groups.Enqueue(new RequestGroup(false, _services.Clock.GetUtcNow().UtcTicks));
        _rewriter.TransactionRules.EndRequestGroup();
    }

    private void ForwardQuery(PgMessage message, PgMessageWriter writer)
    {
        var body = message.Body;
        string sql = Encoding.UTF8.GetString(body[..^1]);
        string? rewritten = Rewrite(sql, extendedProtocol: false);
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
            writer.WriteRaw(message.Raw.Span); // malformed: the backend answers it
            return;
        }
        var queryBytes = body.Slice(nameEnd + 1, queryEnd);
        string sql = Encoding.UTF8.GetString(queryBytes);
        string? rewritten = Rewrite(sql, extendedProtocol: true);
        if (rewritten is null)
        {
            writer.WriteRaw(message.Raw.Span);
            return;
        }
        writer.BeginMessage(PgConstants.Parse);
        writer.WriteRaw(body[..(nameEnd + 1)]);
        writer.WriteCString(rewritten);
        writer.WriteRaw(body[(nameEnd + 1 + queryEnd + 1)..]);
        writer.EndMessage();
    }

    private string? Rewrite(string sql, bool extendedProtocol)
    {
        var result = _rewriter.Rewrite(sql, extendedProtocol);
        if (result.Refused is { } refused) Log.StatementRefused(_logger, Id, refused.SqlState, refused.Message);
        if (result.Commits) _age.OnCommitSent();
        return result.Text;
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
            bool injected = _groups.TryPeek(out var group) && group.Injected;
            if (message.Type == PgConstants.ReadyForQuery)
            {
                _groups.TryDequeue(out _);
                OnReadyForQuery(message.Body[0], group);
                if (injected) continue;
            }
            else if (injected)
            {
                continue; // answers to the emulator's own statements are not the client's business
            }
            if (!_holdingClientLock)
            {
                await writer.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
                _holdingClientLock = true;
            }
            if (message.Type == PgConstants.ErrorResponse) WriteError(message, writer);
            else if (message.Type == PgConstants.CommandComplete && message.Body.StartsWith("ROLLBACK"u8) && _age.TakeCommitPending())
            {
                // COMMIT of a transaction the age limit ended: say so instead of a silent ROLLBACK.
                PgErrorFields.Create("ERROR", PgConstants.ProgramLimitExceeded, DsqlMessages.TransactionAge(_age.MaxTransactionAge)).WriteTo(writer, PgConstants.ErrorResponse);
            }
            else writer.WriteRaw(message.Raw.Span);
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
        if (status == StatusIdle) _age.OnIdle();
    }

    private void WriteError(PgMessage message, PgMessageWriter writer)
    {
        var fields = PgErrorFields.Parse(message.Body);
        TimeSpan? ageLimit = _age.TakeAgeError(fields.SqlState) ? _age.MaxTransactionAge : null;
        if (ErrorTranslator.Translate(fields, ageLimit)) fields.WriteTo(writer, PgConstants.ErrorResponse);
        else writer.WriteRaw(message.Raw.Span);
    }

    // ---------------------------------------------------------------- supervision

    /// <summary>Called by the emulator's supervisor: applies the connection and transaction age limits.</summary>
    public void Supervise(DateTimeOffset now)
    {
        if (!IsProxying || _closing.IsCancellationRequested) return;
        bool busy = _groups.TryPeek(out var head);
        var snapshot = new SessionSnapshot(now, ConnectedAt, _status, Interlocked.Read(ref _transactionStartTicks), busy, head.Injected, head.StartTicks);
        switch (_age.Decide(snapshot))
        {
            case AgeAction.CloseConnection:
                Log.ConnectionAgeExceeded(_logger, Id, _age.MaxConnectionAge.TotalMinutes);
                _ = CloseWithErrorAsync(PgConstants.AdminShutdown, DsqlMessages.ConnectionAge(_age.MaxConnectionAge));
                break;
            case AgeAction.CancelStatement:
                // A statement is running: cancel it, and report the cancellation as DSQL's age error.
                if (!_age.TryMarkCancelSent()) return;
                Log.TransactionAgeExceeded(_logger, Id, _age.MaxTransactionAge.TotalSeconds, "cancelling the running statement");
                _ = CancelBackendAsync();
                break;
            case AgeAction.AbortIdleTransaction:
                _ = AbortIdleTransactionAsync();
                break;
        }
    }

    /// <summary>Fails an idle transaction that outlived the age limit, so the client's next statement learns of it.</summary>
    private async Task AbortIdleTransactionAsync()
    {
        var writer = _backend!.Writer;
        if (!await writer.Lock.WaitAsync(0).ConfigureAwait(false)) return; // the client is sending: try on the next tick
        try
        {
            if (!_groups.IsEmpty || _status != StatusInTransaction) return;
            if (!_age.TryMarkAborted()) return;
            Log.TransactionAgeExceeded(_logger, Id, _age.MaxTransactionAge.TotalSeconds, "aborting the idle transaction");
            _groups.Enqueue(new RequestGroup(true, _services.Clock.GetUtcNow().UtcTicks));
            writer.BeginMessage(PgConstants.Query);
            writer.WriteCString(StatementRewriter.RaiseStatement(new(PgConstants.ProgramLimitExceeded, DsqlMessages.TransactionAge(_age.MaxTransactionAge))));
            writer.EndMessage();
            await writer.FlushAsync(_closing.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            // The session is ending anyway.
        }
        finally
        {
            writer.Lock.Release();
        }
    }

    public async Task CancelBackendAsync()
    {
        var backend = _backend;
        if (backend is null) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await BackendConnection.SendCancelAsync(_services.Backend, backend.ProcessId, backend.SecretKey, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            Log.CancelFailed(_logger, Id, ex.Message);
        }
    }

    /// <summary>Ends the session with a FATAL error to the client (age cap, fault injection, shutdown).</summary>
    public async Task CloseWithErrorAsync(string sqlState, string message)
    {
        if (_closing.IsCancellationRequested) return;
        var writer = _clientWriter;
        if (writer is not null && IsProxying)
        {
            bool locked = false;
            try
            {
                locked = await writer.Lock.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                if (locked)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await writer.FlushAsync(timeout.Token).ConfigureAwait(false);
                    PgErrorFields.Create("FATAL", sqlState, message).WriteTo(writer, PgConstants.ErrorResponse);
                    await writer.FlushAsync(timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
            {
                // The client is gone already.
            }
            finally
            {
                if (locked) writer.Lock.Release();
            }
        }
        Close();
    }

    public void Close()
    {
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
        _socket.Dispose();
        (_backend ?? _handshake.Backend)?.Socket.Dispose();
    }

    private async Task CleanupAsync()
    {
        bool statementInFlight = IsProxying && !_groups.IsEmpty;
        if (statementInFlight)
        {
            // A client that vanished mid-query must not leave its statement running on the backend.
            await CancelBackendAsync().ConfigureAwait(false);
        }
        Close();
        _handshake.ClientStream?.Dispose();
        (_backend ?? _handshake.Backend)?.Dispose();
        if (_handshake.Counted) Interlocked.Decrement(ref _handshake.Endpoint.OpenSessions);
        _services.Registry.Unregister(this);
        if (IsProxying) Log.SessionClosed(_logger, Id);
    }
}
