using System.Buffers.Binary;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Protocol;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Front;

/// <summary>
/// The DSQL-style start of a connection: TLS (SSLRequest or direct), the startup packet, the connection limits, the
/// IAM token asked for as a cleartext password, and the login on the backend. On success the final ReadyForQuery is
/// left in <see cref="Writer"/> for the session to flush.
/// </summary>
internal sealed class StartupHandshake
{
    private const byte StatusIdle = (byte)'I';

    private readonly SessionServices _services;
    private static readonly TimeSpan LingerTime = TimeSpan.FromMilliseconds(500);
    private const int LingerBytes = 1024 * 1024;

    private readonly Socket _socket;
    private readonly long _sessionId;
    private readonly ILogger _logger;

    public StartupHandshake(SessionServices services, EndpointListener listener, Socket socket, long sessionId)
    {
        _services = services;
        _socket = socket;
        _sessionId = sessionId;
        _logger = services.Logger;
        Endpoint = listener;
    }

    /// <summary>The client's stream (network, then TLS); disposed by the session.</summary>
    public Stream? ClientStream { get; private set; }
    public PgMessageReader? Reader { get; private set; }
    public PgMessageWriter? Writer { get; private set; }
    public BackendConnection? Backend { get; private set; }

    /// <summary>The endpoint the client reached (by SNI when the listener serves several names).</summary>
    public EndpointListener Endpoint { get; private set; }

    public string? User { get; private set; }
    public int FrontendProcessId { get; private set; }
    public int FrontendSecretKey { get; private set; }

    /// <summary>True when this connection holds one of the endpoint's open-session slots (the session gives it back).</summary>
    public bool Counted { get; private set; }

    public async Task<bool> RunAsync(Func<(int ProcessId, int SecretKey)> registerCancelKey, CancellationToken cancellationToken)
    {
        var endpoint = Endpoint;
        try
        {
            // Unauthenticated connections are bounded separately from open ones, so a flood of silent clients
            // costs at most MaxPendingHandshakes sockets and TLS states per endpoint.
            if (Interlocked.Increment(ref endpoint.PendingHandshakes) > _services.Options.MaxPendingHandshakes)
            {
                Log.ConnectionRefused(_logger, _sessionId, PgConstants.TooManyConnections, "too many connections are still in their handshake");
                var network = new NetworkStream(_socket, ownsSocket: true);
                ClientStream = network;
                await SendFatalPlainAsync(network, PgConstants.TooManyConnections, DsqlMessages.TooManyConnections, cancellationToken).ConfigureAwait(false);
                return false;
            }
            return await RunCoreAsync(registerCancelKey, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref endpoint.PendingHandshakes);
        }
    }

    private async Task<bool> RunCoreAsync(Func<(int ProcessId, int SecretKey)> registerCancelKey, CancellationToken cancellationToken)
    {
        var network = new NetworkStream(_socket, ownsSocket: true);
        ClientStream = network;
        var faults = _services.Faults;
        if (faults.Latency > TimeSpan.Zero) await Task.Delay(faults.Latency, cancellationToken).ConfigureAwait(false);
        if (await StallAsync(HandshakeStall.AfterAccept, cancellationToken).ConfigureAwait(false)) return false;
        if (Endpoint.Faults.StallAtAccept() is { } endpointStall)
        {
            // The endpoint's own outage: accepted and never answered, closed when the outage ends.
            Log.HandshakeStalled(_logger, _sessionId, HandshakeStall.AfterAccept);
            await endpointStall.WaitAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

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
            bool gssRefused = false;
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
                    // As PostgreSQL: one GSSENCRequest, answered 'N'; then SSLRequest or startup must follow.
                    if (gssRefused)
                    {
                        Log.BadStartupPacket(_logger, _sessionId, length, code);
                        await SendFatalPlainAsync(network, PgConstants.ProtocolViolation, "invalid startup packet: GSSENCRequest sent twice", cancellationToken).ConfigureAwait(false);
                        return false;
                    }
                    gssRefused = true;
                    await network.WriteAsync("N"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                    await network.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (length == 16 && code == PgConstants.CancelRequestCode)
                {
                    byte[] rest = new byte[8];
                    await network.ReadExactlyAsync(rest, cancellationToken).ConfigureAwait(false);
                    await _services.Registry.ForwardCancelAsync(BinaryPrimitives.ReadInt32BigEndian(rest), BinaryPrimitives.ReadInt32BigEndian(rest.AsSpan(4))).ConfigureAwait(false);
                    return false;
                }
                if (code >> 16 == 3 && length is > 8 and <= PgConstants.MaxStartupPacketLength)
                {
                    Log.PlaintextRefused(_logger, _sessionId);
                    await SendFatalPlainAsync(network, PgConstants.InvalidAuthorization, DsqlMessages.TlsRequired, cancellationToken).ConfigureAwait(false);
                    return false;
                }
                Log.BadStartupPacket(_logger, _sessionId, length, code);
                await SendFatalPlainAsync(network, PgConstants.ProtocolViolation, "invalid startup packet: expected a TLS ClientHello (direct TLS) or an SSLRequest", cancellationToken).ConfigureAwait(false);
                return false;
            }
        }

        if (faults.StallAt(HandshakeStall.DuringTls) is { } tlsStall)
        {
            Log.HandshakeStalled(_logger, _sessionId, HandshakeStall.DuringTls);
            transport = new StallingStream(transport, tlsStall);
        }
        var tls = new SslStream(transport, leaveInnerStreamOpen: false);
        ClientStream = tls;
        try
        {
            await tls.AuthenticateAsServerAsync(_services.TlsOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            Log.TlsFailed(_logger, _sessionId, ex.Message);
            return false;
        }

        Reader = new PgMessageReader(tls, PgConstants.MaxMessageLength, 8 * 1024);
        Writer = new PgMessageWriter(tls);

        // The startup packet has no type byte.
        var lengthBytes = await Reader.ReadRawAsync(4, cancellationToken).ConfigureAwait(false);
        int packetLength = BinaryPrimitives.ReadInt32BigEndian(lengthBytes.Span);
        if (packetLength < 8 || packetLength > PgConstants.MaxStartupPacketLength)
        {
            return await RefuseAsync(PgConstants.ProtocolViolation, $"invalid length of startup packet ({packetLength} bytes; at most {PgConstants.MaxStartupPacketLength})", cancellationToken).ConfigureAwait(false);
        }
        byte[] packet = (await Reader.ReadRawAsync(packetLength - 4, cancellationToken).ConfigureAwait(false)).ToArray();
        int version = BinaryPrimitives.ReadInt32BigEndian(packet);
        if (version == PgConstants.CancelRequestCode && packet.Length == 12)
        {
            await _services.Registry.ForwardCancelAsync(BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(4)), BinaryPrimitives.ReadInt32BigEndian(packet.AsSpan(8))).ConfigureAwait(false);
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
            Writer.BeginMessage(PgConstants.NegotiateProtocolVersion);
            Writer.WriteInt32(PgConstants.ProtocolVersion3);
            Writer.WriteInt32(protocolOptions.Count);
            foreach (var option in protocolOptions) Writer.WriteCString(option);
            Writer.EndMessage();
        }

        if (tls.TargetHostName is { Length: > 0 } sni && _services.Registry.FindEndpoint(sni) is { } named) Endpoint = named;

        string? user = Find(parameters, "user");
        if (string.IsNullOrEmpty(user))
            return await RefuseAsync(PgConstants.InvalidAuthorization, "no PostgreSQL user name specified in startup packet", cancellationToken).ConfigureAwait(false);
        User = user;
        string database = Find(parameters, "database") is { Length: > 0 } db ? db : "postgres";
        if (!string.Equals(database, "postgres", StringComparison.Ordinal))
            return await RefuseAsync(PgConstants.InvalidCatalogName, $"database \"{database}\" does not exist", cancellationToken).ConfigureAwait(false);

        if (Endpoint.Faults.RefusalAtStartup() is { } outage)
        {
            if (outage.SqlState is null)
            {
                Log.ConnectionRefused(_logger, _sessionId, "-", "closed by the endpoint's outage (fault injection)");
                return false;
            }
            return await RefuseAsync(outage.SqlState, outage.Message!, cancellationToken).ConfigureAwait(false);
        }
        if (faults.TakeRefusal() is { } refusal)
            return await RefuseAsync(refusal.SqlState, refusal.Message, cancellationToken).ConfigureAwait(false);
        // DSQL asks for the token as a cleartext password (inside TLS).
        Writer.BeginMessage(PgConstants.Authentication);
        Writer.WriteInt32(3);
        Writer.EndMessage();
        await Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        PgMessage passwordMessage;
        try
        {
            // The limit is checked on the length word, before any body is buffered.
            passwordMessage = await Reader.ReadAsync(null, cancellationToken, PgConstants.MaxPasswordMessageLength).ConfigureAwait(false);
        }
        catch (PgProtocolException ex)
        {
            return await RefuseAsync(PgConstants.ProtocolViolation, $"expected a password message of at most {PgConstants.MaxPasswordMessageLength} bytes: {ex.Message}", cancellationToken).ConfigureAwait(false);
        }
        if (passwordMessage.IsEnd) return false;
        if (await StallAsync(HandshakeStall.AfterPassword, cancellationToken).ConfigureAwait(false)) return false;
        if (passwordMessage.Type != PgConstants.Password)
            return await RefuseAsync(PgConstants.ProtocolViolation, $"expected a password message of at most {PgConstants.MaxPasswordMessageLength} bytes, got message type '{(char)passwordMessage.Type}'", cancellationToken).ConfigureAwait(false);
        // A connection counts against the rate when it presents its credentials (clients that pace themselves
        // wait before they send the token).
        if (!Endpoint.RateLimiter.TryAcquire())
        {
            Log.RateLimited(_logger, _sessionId, Endpoint.Host);
            return await RefuseAsync(PgConstants.RateExceeded, DsqlMessages.RateExceeded, cancellationToken).ConfigureAwait(false);
        }
        var body = passwordMessage.Body;
        int terminator = body.IndexOf((byte)0);
        string token = Encoding.UTF8.GetString(terminator >= 0 ? body[..terminator] : body);
        var verdict = _services.TokenValidator.Validate(token, user, Endpoint.Host, Endpoint.Region, _services.Clock.GetUtcNow());
        if (!verdict.IsValid)
        {
            Log.AuthenticationFailed(_logger, _sessionId, user, Endpoint.Host, verdict.Failure ?? "invalid token");
            return await RefuseAsync(PgConstants.InvalidAuthorization, $"authentication failed for user \"{user}\": {verdict.Failure}", cancellationToken).ConfigureAwait(false);
        }

        // A connection takes an open-connection slot once it has authenticated: clients that never finish their
        // handshake cannot lock valid ones out (those are bounded by MaxPendingHandshakes instead).
        if (Interlocked.Increment(ref Endpoint.OpenSessions) > _services.Options.MaxConnections)
        {
            Interlocked.Decrement(ref Endpoint.OpenSessions);
            return await RefuseAsync(PgConstants.TooManyConnections, DsqlMessages.TooManyConnections, cancellationToken).ConfigureAwait(false);
        }
        Counted = true;

        try
        {
            Backend = await BackendConnection.OpenAsync(_services.Backend, user, BackendParameters(parameters), cancellationToken).ConfigureAwait(false);
        }
        catch (BackendErrorException ex)
        {
            ex.Fields['S'] = "FATAL";
            ex.Fields['V'] = "FATAL";
            return await RefuseAsync(ex.Fields, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or BackendLoginException)
        {
            Log.BackendUnreachable(_logger, _sessionId, ex.Message);
            return await RefuseAsync(PgConstants.ConnectionFailure, $"the emulator could not open a session on its PostgreSQL backend: {ex.Message}", cancellationToken).ConfigureAwait(false);
        }

        Writer.BeginMessage(PgConstants.Authentication);
        Writer.WriteInt32(0);
        Writer.EndMessage();
        foreach (var status in Backend.ParameterStatusMessages) Writer.WriteRaw(status);
        if (faults.StallAt(HandshakeStall.MidStartup) is not null)
        {
            await Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (await StallAsync(HandshakeStall.MidStartup, cancellationToken).ConfigureAwait(false)) return false;
        }
        (FrontendProcessId, FrontendSecretKey) = registerCancelKey();
        Writer.BeginMessage(PgConstants.BackendKeyData);
        Writer.WriteInt32(FrontendProcessId);
        Writer.WriteInt32(FrontendSecretKey);
        Writer.EndMessage();
        Writer.BeginMessage(PgConstants.ReadyForQuery);
        Writer.WriteByte(StatusIdle);
        Writer.EndMessage();
        // The final ReadyForQuery stays buffered: the session flushes it once it counts as open.
        Log.SessionOpened(_logger, _sessionId, user, Endpoint.Host, Backend.ProcessId);
        return true;
    }

    /// <summary>
    /// Stops answering when fault injection stalls <paramref name="phase"/>: waits until the stall is lifted (true: the
    /// caller closes the connection) or the handshake times out (an <see cref="OperationCanceledException"/>).
    /// </summary>
    private async Task<bool> StallAsync(HandshakeStall phase, CancellationToken cancellationToken)
    {
        if (_services.Faults.StallAt(phase) is not { } released) return false;
        Log.HandshakeStalled(_logger, _sessionId, phase);
        await released.WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private List<KeyValuePair<string, string>> BackendParameters(List<KeyValuePair<string, string>> client)
    {
        var options = _services.Options;
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
        Log.ConnectionRefused(_logger, _sessionId, error.SqlState, error.Message);
        error.WriteTo(Writer!, PgConstants.ErrorResponse);
        await Writer!.FlushAsync(cancellationToken).ConfigureAwait(false);
        await LingerAsync().ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Closes gently after a refusal: a socket closed while the client's unread bytes (a long password, a pipelined
    /// query) sit in its receive buffer is reset, and the reset can destroy the error on its way to the client.
    /// So the emulator ends its side and discards what the client still sends, for a bounded time and amount.
    /// </summary>
    private async Task LingerAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
            using var limit = new CancellationTokenSource(LingerTime);
            byte[] discard = new byte[16 * 1024];
            for (int total = 0; total < LingerBytes;)
            {
                int read = await _socket.ReceiveAsync(discard, SocketFlags.None, limit.Token).ConfigureAwait(false);
                if (read == 0) return;
                total += read;
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone, or kept sending: close now.
        }
    }

    private static async Task SendFatalPlainAsync(Stream stream, string sqlState, string message, CancellationToken cancellationToken)
    {
        var writer = new PgMessageWriter(stream);
        PgErrorFields.Create("FATAL", sqlState, message).WriteTo(writer, PgConstants.ErrorResponse);
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

}
