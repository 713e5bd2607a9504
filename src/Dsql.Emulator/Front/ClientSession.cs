using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Security;
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
/// One client connection: the DSQL-style handshake (TLS, startup, IAM token) and then the proxy between the
/// client and its own backend session, applying DSQL's rules on the way through.
/// </summary>
/// <remarks>
/// Two pumps run per session. The client pump reads client messages, refuses what DSQL refuses by rewriting the
/// statement into a call of <c>dsql_emulator.raise</c> (so the backend's transaction state stays exact), and
/// forwards. The backend pump forwards answers, turning PostgreSQL's conflict and cancel errors into DSQL's.
/// Each request group (a Query, or messages up to a Sync) gets an entry in <see cref="_groups"/> so the backend
/// pump knows which answers belong to the emulator's own injected statements.
/// </remarks>
internal sealed class ClientSession
{
    private const byte StatusIdle = (byte)'I';
    private const byte StatusInTransaction = (byte)'T';
    private const byte StatusFailed = (byte)'E';

    private readonly DsqlEmulator _emulator;
    private readonly EndpointListener _listener;
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentQueue<RequestGroup> _groups = new();
    private readonly List<StatementInfo> _statements = new();
    private readonly AsyncJobRules _asyncJobs;

    private Stream? _clientStream;
    private PgMessageReader? _clientReader;
    private PgMessageWriter? _clientWriter;
    private BackendConnection? _backend;
    private EndpointListener _endpoint;
    private bool _counted;
    private bool _holdingBackendLock;
    private bool _holdingClientLock;

    // Backend truth, written by the backend pump.
    private volatile byte _status = StatusIdle;
    private long _transactionStartTicks;

    // Transaction-age enforcement, shared by the supervisor and both pumps.
    private int _ageState; // AgeState
    private volatile bool _ageAbortUnreported;
    private volatile bool _ageCommitPending;

    // The client pump's view of the transaction, for DSQL's DDL/DML rules.
    private bool _groupOpen;
    private bool _explicitTransaction;
    private int _ddlCount;
    private int _dmlCount;

    public ClientSession(DsqlEmulator emulator, EndpointListener listener, Socket socket, long id)
    {
        _emulator = emulator;
        _listener = listener;
        _endpoint = listener;
        _socket = socket;
        Id = id;
        _logger = emulator.Logger;
        ConnectedAt = emulator.Clock.GetUtcNow();
        _asyncJobs = new AsyncJobRules(emulator.Jobs);
    }

    private enum AgeState { None = 0, CancelSent = 1, Aborted = 2 }

    private readonly record struct RequestGroup(bool Injected, long StartTicks);

    public long Id { get; }
    public DateTimeOffset ConnectedAt { get; }
    public string? User { get; private set; }
    public int FrontendProcessId { get; private set; }
    public int FrontendSecretKey { get; private set; }
    public bool IsProxying { get; private set; }
    public EndpointListener Endpoint => _endpoint;

    public async Task RunAsync()
    {
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
            handshake.CancelAfter(_emulator.Options.HandshakeTimeout);
            if (!await HandshakeAsync(handshake.Token).ConfigureAwait(false)) return;
            IsProxying = true;
            await ProxyAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            // Closed by the emulator (age cap, fault injection, shutdown).
        }
        catch (OperationCanceledException)
        {
            Log.HandshakeTimedOut(_logger, Id, _emulator.Options.HandshakeTimeout.TotalSeconds);
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

    // ---------------------------------------------------------------- handshake

    private async Task<bool> HandshakeAsync(CancellationToken cancellationToken)
    {
        var network = new NetworkStream(_socket, ownsSocket: true);
        _clientStream = network;
        var faults = _emulator.Faults;
        if (faults.Latency > TimeSpan.Zero) await Task.Delay(faults.Latency, cancellationToken).ConfigureAwait(false);

        // Direct TLS starts with a TLS handshake record; everything else starts with a length-prefixed packet.
        byte[] head = new byte[8];
        await network.ReadExactlyAsync(head.AsMemory(0, 1), cancellationToken).ConfigureAwait(false);
        Stream transport;
        if (head[0] == PgConstants.TlsHandshakeRecord)
        {
            transport = new PrefixedStream(network, [head[0]]);
        }
        else
        {
            await network.ReadExactlyAsync(head.AsMemory(1, 7), cancellationToken).ConfigureAwait(false);
            while (true)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(head);
                int code = BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(4));
                if (length == 8 && code == PgConstants.SslRequestCode)
                {
                    await network.WriteAsync("S"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                    transport = network;
                    break;
                }
                if (length == 8 && code == PgConstants.GssEncRequestCode)
                {
                    await network.WriteAsync("N"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                    await network.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (length == 16 && code == PgConstants.CancelRequestCode)
                {
                    byte[] rest = new byte[8];
                    await network.ReadExactlyAsync(rest, cancellationToken).ConfigureAwait(false);
                    await _emulator.ForwardCancelAsync(BinaryPrimitives.ReadInt32BigEndian(rest), BinaryPrimitives.ReadInt32BigEndian(rest.AsSpan(4))).ConfigureAwait(false);
                    return false;
                }
                if (code >> 16 == 3 && length is > 8 and <= PgConstants.MaxStartupPacketLength)
                {
                    Log.PlaintextRefused(_logger, Id);
                    await SendFatalPlainAsync(network, PgConstants.InvalidAuthorization, DsqlMessages.TlsRequired, cancellationToken).ConfigureAwait(false);
                    return false;
                }
                Log.BadStartupPacket(_logger, Id, length, code);
                await SendFatalPlainAsync(network, PgConstants.ProtocolViolation, "invalid startup packet: expected a TLS ClientHello (direct TLS) or an SSLRequest", cancellationToken).ConfigureAwait(false);
                return false;
            }
        }

        var tls = new SslStream(transport, leaveInnerStreamOpen: false);
        _clientStream = tls;
        try
        {
            await tls.AuthenticateAsServerAsync(_emulator.TlsOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            Log.TlsFailed(_logger, Id, ex.Message);
            return false;
        }

        _clientReader = new PgMessageReader(tls, PgConstants.MaxMessageLength, 8 * 1024);
        _clientWriter = new PgMessageWriter(tls);

        // The startup packet has no type byte.
        var lengthBytes = await _clientReader.ReadRawAsync(4, cancellationToken).ConfigureAwait(false);
        int packetLength = BinaryPrimitives.ReadInt32BigEndian(lengthBytes.Span);
        if (packetLength < 8 || packetLength > PgConstants.MaxStartupPacketLength)
        {
            return await RefuseAsync(PgConstants.ProtocolViolation, $"invalid length of startup packet ({packetLength} bytes; at most {PgConstants.MaxStartupPacketLength})", cancellationToken).ConfigureAwait(false);
        }
        byte[] packet = (await _clientReader.ReadRawAsync(packetLength - 4, cancellationToken).ConfigureAwait(false)).ToArray();
        int version = BinaryPrimitives.ReadInt32BigEndian(packet);
        if (version == PgConstants.CancelRequestCode && packet.Length == 12)
        {
            await _emulator.ForwardCancelAsync(BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(4)), BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(8))).ConfigureAwait(false);
            return false;
        }
        if (version >> 16 != 3)
        {
            return await RefuseAsync(PgConstants.FeatureNotSupported,
                $"unsupported frontend protocol {version >> 16}.{version & 0xFFFF}: server supports 3.0 to 3.0", cancellationToken).ConfigureAwait(false);
        }
        if (!TryParseStartupParameters(packet.AsSpan(4), out var parameters, out var protocolOptions))
        {
            return await RefuseAsync(PgConstants.ProtocolViolation, "invalid startup packet layout: expected name/value pairs ending in a zero byte", cancellationToken).ConfigureAwait(false);
        }
        if ((version & 0xFFFF) > 0 || protocolOptions.Count > 0)
        {
            // Newer clients ask for protocol 3.x features; answer with what is served (3.0), as PostgreSQL does.
            _clientWriter.BeginMessage(PgConstants.NegotiateProtocolVersion);
            _clientWriter.WriteInt32(PgConstants.ProtocolVersion3);
            _clientWriter.WriteInt32(protocolOptions.Count);
            foreach (var option in protocolOptions) _clientWriter.WriteCString(option);
            _clientWriter.EndMessage();
        }

        if (tls.TargetHostName is { Length: > 0 } sni && _emulator.FindEndpoint(sni) is { } named) _endpoint = named;

        string? user = Find(parameters, "user");
        if (string.IsNullOrEmpty(user))
            return await RefuseAsync(PgConstants.InvalidAuthorization, "no PostgreSQL user name specified in startup packet", cancellationToken).ConfigureAwait(false);
        User = user;
        string database = Find(parameters, "database") is { Length: > 0 } db ? db : "postgres";
        if (!string.Equals(database, "postgres", StringComparison.Ordinal))
            return await RefuseAsync(PgConstants.InvalidCatalogName, $"database \"{database}\" does not exist", cancellationToken).ConfigureAwait(false);

        if (faults.TakeRefusal() is { } refusal)
            return await RefuseAsync(refusal.SqlState, refusal.Message, cancellationToken).ConfigureAwait(false);
        if (Interlocked.Increment(ref _endpoint.OpenSessions) > _emulator.Options.MaxConnections)
        {
            Interlocked.Decrement(ref _endpoint.OpenSessions);
            return await RefuseAsync(PgConstants.TooManyConnections, DsqlMessages.TooManyConnections, cancellationToken).ConfigureAwait(false);
        }
        _counted = true;

        // DSQL asks for the token as a cleartext password (inside TLS).
        _clientWriter.BeginMessage(PgConstants.Authentication);
        _clientWriter.WriteInt32(3);
        _clientWriter.EndMessage();
        await _clientWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
        PgMessage passwordMessage;
        try
        {
            // The limit is checked on the length word, before any body is buffered.
            passwordMessage = await _clientReader.ReadAsync(null, cancellationToken, PgConstants.MaxPasswordMessageLength).ConfigureAwait(false);
        }
        catch (PgProtocolException ex)
        {
            return await RefuseAsync(PgConstants.ProtocolViolation, $"expected a password message of at most {PgConstants.MaxPasswordMessageLength} bytes: {ex.Message}", cancellationToken).ConfigureAwait(false);
        }
        if (passwordMessage.IsEnd) return false;
        if (passwordMessage.Type != PgConstants.Password)
            return await RefuseAsync(PgConstants.ProtocolViolation, $"expected a password message of at most {PgConstants.MaxPasswordMessageLength} bytes, got message type '{(char)passwordMessage.Type}'", cancellationToken).ConfigureAwait(false);
        // A connection counts against the rate when it presents its credentials (clients that pace themselves
        // wait before they send the token).
        if (!_endpoint.RateLimiter.TryAcquire())
        {
            Log.RateLimited(_logger, Id, _endpoint.Host);
            return await RefuseAsync(PgConstants.RateExceeded, DsqlMessages.RateExceeded, cancellationToken).ConfigureAwait(false);
        }
        var body = passwordMessage.Body;
        int terminator = body.IndexOf((byte)0);
        string token = Encoding.UTF8.GetString(terminator >= 0 ? body[..terminator] : body);
        var verdict = _emulator.TokenValidator.Validate(token, user, _endpoint.Host, _endpoint.Region, _emulator.Clock.GetUtcNow());
        if (!verdict.IsValid)
        {
            Log.AuthenticationFailed(_logger, Id, user, _endpoint.Host, verdict.Failure ?? "invalid token");
            return await RefuseAsync(PgConstants.InvalidAuthorization, $"authentication failed for user \"{user}\": {verdict.Failure}", cancellationToken).ConfigureAwait(false);
        }

        try
        {
            _backend = await BackendConnection.OpenAsync(_emulator.Backend, user, BackendParameters(parameters), cancellationToken).ConfigureAwait(false);
        }
        catch (BackendErrorException ex)
        {
            ex.Fields['S'] = "FATAL";
            ex.Fields['V'] = "FATAL";
            return await RefuseAsync(ex.Fields, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or BackendLoginException)
        {
            Log.BackendUnreachable(_logger, Id, ex.Message);
            return await RefuseAsync(PgConstants.ConnectionFailure, $"the emulator could not open a session on its PostgreSQL backend: {ex.Message}", cancellationToken).ConfigureAwait(false);
        }

        _clientWriter.BeginMessage(PgConstants.Authentication);
        _clientWriter.WriteInt32(0);
        _clientWriter.EndMessage();
        foreach (var status in _backend.ParameterStatusMessages) _clientWriter.WriteRaw(status);
        (FrontendProcessId, FrontendSecretKey) = _emulator.RegisterCancelKey(this);
        _clientWriter.BeginMessage(PgConstants.BackendKeyData);
        _clientWriter.WriteInt32(FrontendProcessId);
        _clientWriter.WriteInt32(FrontendSecretKey);
        _clientWriter.EndMessage();
        _clientWriter.BeginMessage(PgConstants.ReadyForQuery);
        _clientWriter.WriteByte(StatusIdle);
        _clientWriter.EndMessage();
        await _clientWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
        Log.SessionOpened(_logger, Id, user, _endpoint.Host, _backend.ProcessId);
        return true;
    }

    private List<KeyValuePair<string, string>> BackendParameters(List<KeyValuePair<string, string>> client)
    {
        var options = _emulator.Options;
        var result = new List<KeyValuePair<string, string>>(12);
        foreach (var (name, value) in client)
        {
            // DSQL's settable parameters, and the application name.
            if (name.Equals("application_name", StringComparison.OrdinalIgnoreCase) || name.Equals("client_encoding", StringComparison.OrdinalIgnoreCase)
                || name.Equals("DateStyle", StringComparison.OrdinalIgnoreCase) || name.Equals("TimeZone", StringComparison.OrdinalIgnoreCase)
                || name.Equals("extra_float_digits", StringComparison.OrdinalIgnoreCase) || name.Equals("IntervalStyle", StringComparison.OrdinalIgnoreCase)
                || name.Equals("search_path", StringComparison.OrdinalIgnoreCase))
                result.Add(new(name, value));
        }
        result.Add(new("default_transaction_isolation", "repeatable read"));
        result.Add(new("lock_timeout", ((long)options.LockWaitTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)));
        result.Add(new("client_connection_check_interval", "1000"));
        result.Add(new(BackendSchema.RowLimitSetting, options.MaxRowsPerTransaction.ToString(CultureInfo.InvariantCulture)));
        result.Add(new(BackendSchema.ByteLimitSetting, options.MaxBytesPerTransaction.ToString(CultureInfo.InvariantCulture)));
        return result;
    }

    private static bool TryParseStartupParameters(ReadOnlySpan<byte> data, out List<KeyValuePair<string, string>> parameters, out List<string> protocolOptions)
    {
        parameters = new List<KeyValuePair<string, string>>();
        protocolOptions = new List<string>();
        while (true)
        {
            if (data.IsEmpty) return false;
            if (data[0] == 0) return data.Length == 1;
            int nameEnd = data.IndexOf((byte)0);
            if (nameEnd < 0) return false;
            string name = Encoding.UTF8.GetString(data[..nameEnd]);
            data = data[(nameEnd + 1)..];
            int valueEnd = data.IndexOf((byte)0);
            if (valueEnd < 0) return false;
            string value = Encoding.UTF8.GetString(data[..valueEnd]);
            data = data[(valueEnd + 1)..];
            if (name.StartsWith("_pq_.", StringComparison.Ordinal)) protocolOptions.Add(name);
            else parameters.Add(new(name, value));
        }
    }

    private static string? Find(List<KeyValuePair<string, string>> parameters, string name)
    {
        foreach (var (key, value) in parameters)
            if (key == name) return value;
        return null;
    }

    private Task<bool> RefuseAsync(string sqlState, string message, CancellationToken cancellationToken)
        => RefuseAsync(PgErrorFields.Create("FATAL", sqlState, message), cancellationToken);

    private async Task<bool> RefuseAsync(PgErrorFields error, CancellationToken cancellationToken)
    {
        Log.ConnectionRefused(_logger, Id, error.SqlState, error.Message);
        error.WriteTo(_clientWriter!, PgConstants.ErrorResponse);
        await _clientWriter!.FlushAsync(cancellationToken).ConfigureAwait(false);
        return false;
    }

    private static async Task SendFatalPlainAsync(Stream stream, string sqlState, string message, CancellationToken cancellationToken)
    {
        var writer = new PgMessageWriter(stream);
        PgErrorFields.Create("FATAL", sqlState, message).WriteTo(writer, PgConstants.ErrorResponse);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
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
            var latency = _emulator.Faults.Latency;
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
        if (_groups.IsEmpty && _status == StatusIdle) (_explicitTransaction, _ddlCount, _dmlCount) = (false, 0, 0);
    }

    private void EndGroup()
    {
        _groupOpen = false;
        _groups.Enqueue(new RequestGroup(false, _emulator.Clock.GetUtcNow().UtcTicks));
        // Outside BEGIN ... COMMIT each request group is its own implicit transaction.
        if (!_explicitTransaction) (_ddlCount, _dmlCount) = (0, 0);
    }

    private void ForwardQuery(PgMessage message, PgMessageWriter writer)
    {
        var body = message.Body;
        string sql = Encoding.UTF8.GetString(body[..^1]);
        string? rewritten = RewriteStatements(sql, parameterCount: 0);
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
        string? rewritten = RewriteStatements(sql, parameterCount: -1);
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

    /// <summary>
    /// Applies DSQL's statement and transaction rules to a query text. Returns null when it goes through as is;
    /// otherwise the text to send instead: statements before a refused one are kept, the refused one becomes a
    /// call that raises DSQL's error, and what follows is dropped (it would not run after the error anyway).
    /// </summary>
    private string? RewriteStatements(string sql, int parameterCount)
    {
        SqlAnalyzer.Analyze(sql, _statements);
        StringBuilder? builder = null;
        int copied = 0;
        foreach (var statement in _statements)
        {
            if (statement.Kind == StatementKind.Empty) continue;
            var rejection = statement.Rejection ?? ApplyTransactionRules(statement.Kind) ?? _asyncJobs.Check(sql, statement, _statements, _explicitTransaction);
            if (rejection is { } refused)
            {
                builder ??= new StringBuilder(sql.Length + 96);
                builder.Append(sql, copied, statement.Start - copied);
                AppendRaise(builder, refused, parameterCount < 0 ? SqlAnalyzer.MaxParameterIndex(sql) : 0);
                Log.StatementRefused(_logger, Id, refused.SqlState, refused.Message);
                return builder.ToString();
            }
            if (statement.Kind == StatementKind.Commit && _ageState != (int)AgeState.None) _ageCommitPending = true;
            if (_asyncJobs.Rewrite(sql, statement) is { } job)
            {
                // CREATE INDEX ASYNC / ALTER TABLE ASYNC ... VALIDATE: submitted as a job that returns its job_id.
                builder ??= new StringBuilder(sql.Length + 160);
                builder.Append(sql, copied, statement.Start - copied).Append(job);
                copied = statement.Start + statement.Length;
            }
        }
        if (builder is null) return null;
        builder.Append(sql, copied, sql.Length - copied);
        return builder.ToString();
    }

    private DsqlRejection? ApplyTransactionRules(StatementKind kind)
    {
        switch (kind)
        {
            case StatementKind.Begin:
                (_explicitTransaction, _ddlCount, _dmlCount) = (true, 0, 0);
                return null;
            case StatementKind.Commit:
            case StatementKind.Rollback:
                (_explicitTransaction, _ddlCount, _dmlCount) = (false, 0, 0);
                return null;
            case StatementKind.Ddl:
                if (_ddlCount > 0) return new DsqlRejection(PgConstants.FeatureNotSupported, DsqlMessages.MultipleDdl);
                if (_dmlCount > 0) return new DsqlRejection(PgConstants.FeatureNotSupported, DsqlMessages.DdlAndDml);
                _ddlCount++;
                return null;
            case StatementKind.Dml:
                if (_ddlCount > 0) return new DsqlRejection(PgConstants.FeatureNotSupported, DsqlMessages.DdlAndDml);
                _dmlCount++;
                return null;
            default:
                return null;
        }
    }

    private static void AppendRaise(StringBuilder builder, DsqlRejection rejection, int parameterCount)
    {
        builder.Append("SELECT dsql_emulator.raise('").Append(rejection.SqlState).Append("', '")
            .Append(rejection.Message.Replace("'", "''", StringComparison.Ordinal)).Append("')");
        if (parameterCount <= 0) return;
        // Keep the statement's parameters so that the client's Bind still matches.
        builder.Append(" FROM (SELECT ");
        for (int i = 1; i <= parameterCount; i++)
        {
            if (i > 1) builder.Append(", ");
            builder.Append('$').Append(i.ToString(CultureInfo.InvariantCulture)).Append("::text");
        }
        builder.Append(") AS dsql_emulator_parameters");
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
                await _asyncJobs.BeforeReadyForQueryAsync(message.Body[0], flush, cancellationToken).ConfigureAwait(false);
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
            if (_asyncJobs.TryRewrite(message, writer)) { }
            else if (message.Type == PgConstants.ErrorResponse) WriteError(message, writer);
            else if (message.Type == PgConstants.CommandComplete && _ageCommitPending && message.Body.StartsWith("ROLLBACK"u8))
            {
                // COMMIT of a transaction the age limit ended: say so instead of a silent ROLLBACK.
                _ageCommitPending = false;
                PgErrorFields.Create("ERROR", PgConstants.ProgramLimitExceeded, DsqlMessages.TransactionAge(_emulator.Options.MaxTransactionAge)).WriteTo(writer, PgConstants.ErrorResponse);
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
        if (status == StatusIdle)
        {
            Interlocked.Exchange(ref _ageState, (int)AgeState.None);
            _ageAbortUnreported = false;
            _ageCommitPending = false;
        }
    }

    private void WriteError(PgMessage message, PgMessageWriter writer)
    {
        var fields = PgErrorFields.Parse(message.Body);
        string state = fields.SqlState;
        bool changed = false;
        var options = _emulator.Options;
        if ((state == PgConstants.QueryCanceled && _ageState == (int)AgeState.CancelSent)
            || (state == PgConstants.InFailedTransaction && _ageAbortUnreported))
        {
            _ageAbortUnreported = false;
            fields['C'] = PgConstants.ProgramLimitExceeded;
            fields['M'] = DsqlMessages.TransactionAge(options.MaxTransactionAge);
            fields['D'] = null;
            changed = true;
        }
        else if (state is PgConstants.SerializationFailure or PgConstants.DeadlockDetected
                 || (state == PgConstants.LockNotAvailable && fields.Message.Contains("lock timeout", StringComparison.Ordinal)))
        {
            fields['C'] = PgConstants.SerializationFailure;
            fields['M'] = DsqlMessages.ConflictOc000;
            fields['D'] = null;
            fields['H'] = null;
            changed = true;
        }
        if (fields['W'] is { } where && where.Contains(BackendSchema.Schema + ".", StringComparison.Ordinal))
        {
            // Hide the emulator's own PL/pgSQL helpers: DSQL's errors carry no such context.
            fields['W'] = null;
            fields['F'] = null;
            fields['L'] = null;
            fields['R'] = null;
            fields['q'] = null;
            fields['p'] = null;
            changed = true;
        }
        if (changed) fields.WriteTo(writer, PgConstants.ErrorResponse);
        else writer.WriteRaw(message.Raw.Span);
    }

    // ---------------------------------------------------------------- supervision

    /// <summary>Called by the emulator's supervisor: applies the connection and transaction age limits.</summary>
    public void Supervise(DateTimeOffset now)
    {
        if (!IsProxying || _closing.IsCancellationRequested) return;
        var options = _emulator.Options;
        if (now - ConnectedAt > options.MaxConnectionAge)
        {
            Log.ConnectionAgeExceeded(_logger, Id, options.MaxConnectionAge.TotalMinutes);
            _ = CloseWithErrorAsync(PgConstants.AdminShutdown, DsqlMessages.ConnectionAge(options.MaxConnectionAge));
            return;
        }
        if (_ageState != (int)AgeState.None) return;

        byte status = _status;
        bool busy = _groups.TryPeek(out var head);
        long startTicks;
        if (status != StatusIdle) startTicks = Interlocked.Read(ref _transactionStartTicks);
        else if (busy && !head.Injected) startTicks = head.StartTicks;
        else return;
        if (now.UtcTicks - startTicks <= options.MaxTransactionAge.Ticks) return;

        if (busy)
        {
            // A statement is running: cancel it, and report the cancellation as DSQL's age error.
            if (Interlocked.CompareExchange(ref _ageState, (int)AgeState.CancelSent, (int)AgeState.None) != (int)AgeState.None) return;
            Log.TransactionAgeExceeded(_logger, Id, options.MaxTransactionAge.TotalSeconds, "cancelling the running statement");
            _ = CancelBackendAsync();
        }
        else if (status == StatusInTransaction)
        {
            _ = AbortIdleTransactionAsync();
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
            if (Interlocked.CompareExchange(ref _ageState, (int)AgeState.Aborted, (int)AgeState.None) != (int)AgeState.None) return;
            Log.TransactionAgeExceeded(_logger, Id, _emulator.Options.MaxTransactionAge.TotalSeconds, "aborting the idle transaction");
            _ageAbortUnreported = true;
            _ageCommitPending = false;
            _groups.Enqueue(new RequestGroup(true, _emulator.Clock.GetUtcNow().UtcTicks));
            writer.BeginMessage(PgConstants.Query);
            writer.WriteCString($"SELECT {BackendSchema.Schema}.raise('{PgConstants.ProgramLimitExceeded}', '{DsqlMessages.TransactionAge(_emulator.Options.MaxTransactionAge)}')");
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
            await BackendConnection.SendCancelAsync(_emulator.Backend, backend.ProcessId, backend.SecretKey, timeout.Token).ConfigureAwait(false);
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
        _backend?.Socket.Dispose();
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
        _clientStream?.Dispose();
        _backend?.Dispose();
        if (_counted) Interlocked.Decrement(ref _endpoint.OpenSessions);
        _emulator.Unregister(this);
        if (IsProxying) Log.SessionClosed(_logger, Id);
    }
}
