using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Dsql.Emulator.Tests.Infrastructure;

/// <summary>A server message read by <see cref="RawPgClient"/>: its type byte and body (without the length).</summary>
internal sealed record RawPgMessage(char Type, byte[] Body)
{
    public int ReadInt32(int offset = 0) => BinaryPrimitives.ReadInt32BigEndian(Body.AsSpan(offset));

    /// <summary>The fields of an ErrorResponse or NoticeResponse, by field code (S, V, C, M, D, H, ...).</summary>
    public IReadOnlyDictionary<char, string> ErrorFields()
    {
        var fields = new Dictionary<char, string>();
        int i = 0;
        while (i < Body.Length && Body[i] != 0)
        {
            char code = (char)Body[i++];
            int end = Array.IndexOf(Body, (byte)0, i);
            if (end < 0) end = Body.Length;
            fields[code] = Encoding.UTF8.GetString(Body, i, end - i);
            i = end + 1;
        }
        return fields;
    }

    public override string ToString() => Type == 'E' || Type == 'N'
        ? $"'{Type}' {{{string.Join(", ", ErrorFields().Select(f => $"{f.Key}={f.Value}"))}}}"
        : $"'{Type}' ({Body.Length} bytes)";
}

/// <summary>
/// A hand-written PostgreSQL protocol v3 client over a raw socket, for tests that must send what no driver would:
/// plaintext startups, garbage, oversized or malformed packets, and abrupt disconnects.
/// </summary>
internal sealed class RawPgClient : IAsyncDisposable
{
    public const int SslRequestCode = 80877103;
    public const int Protocol30 = 3 << 16;
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private RawPgClient(Socket socket)
    {
        Socket = socket;
        Stream = new NetworkStream(socket, ownsSocket: true);
    }

    public Socket Socket { get; }

    /// <summary>The current transport: the socket's stream, or the TLS stream over it once TLS is up.</summary>
    public Stream Stream { get; private set; }

    public static async Task<RawPgClient> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new RawPgClient(socket);
    }

    public static Task<RawPgClient> ConnectAsync(EmulatorEndpointInfo endpoint) => ConnectAsync(endpoint.Port);

    // ------------------------------------------------------------ TLS

    /// <summary>Sends an SSLRequest and returns the server's one-byte answer ('S' or 'N'), or null if it closed.</summary>
    public async Task<char?> SendSslRequestAsync()
    {
        var request = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(request, 8);
        BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(4), SslRequestCode);
        await SendRawAsync(request);
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        var answer = new byte[1];
        int read = await Stream.ReadAsync(answer, timeout.Token);
        return read == 0 ? null : (char)answer[0];
    }

    /// <summary>Classic negotiation: SSLRequest, expect 'S', then a verify-full TLS handshake.</summary>
    public async Task StartTlsAsync(EmulatorEndpointInfo endpoint, TimeSpan? timeout = null)
    {
        char? answer = await SendSslRequestAsync();
        if (answer != 'S') throw new InvalidOperationException($"the emulator answered the SSLRequest with {(answer is null ? "a closed connection" : $"'{answer}'")}, expected 'S'");
        await AuthenticateTlsAsync(endpoint, timeout);
    }

    /// <summary>Direct TLS: the ClientHello is the first thing on the wire.</summary>
    public Task StartDirectTlsAsync(EmulatorEndpointInfo endpoint, TimeSpan? timeout = null) => AuthenticateTlsAsync(endpoint, timeout);

    private async Task AuthenticateTlsAsync(EmulatorEndpointInfo endpoint, TimeSpan? limit)
    {
        var authority = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(endpoint.CaCertificatePath));
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(authority);
        var tls = new SslStream(Stream, leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(limit ?? DefaultTimeout);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.Host,
            CertificateChainPolicy = policy,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ApplicationProtocols = [new SslApplicationProtocol("postgresql")],
        }, timeout.Token);
        Stream = tls;
    }

    // ------------------------------------------------------------ sending

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes)
    {
        await Stream.WriteAsync(bytes);
        await Stream.FlushAsync();
    }

    /// <summary>A startup packet: int32 length, int32 protocol version, name/value pairs, a final zero byte.</summary>
    public static byte[] StartupPacket(int version, params (string Name, string Value)[] parameters)
    {
        using var body = new MemoryStream();
        foreach (var (name, value) in parameters)
        {
            WriteCString(body, name);
            WriteCString(body, value);
        }
        body.WriteByte(0);
        return UntypedPacket(version, body.ToArray());
    }

    /// <summary>An untyped packet (startup layout) with an arbitrary payload after the version.</summary>
    public static byte[] UntypedPacket(int version, byte[] payload)
    {
        var packet = new byte[8 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(packet, packet.Length);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(4), version);
        payload.CopyTo(packet, 8);
        return packet;
    }

    public Task SendStartupAsync(params (string Name, string Value)[] parameters) => SendRawAsync(StartupPacket(Protocol30, parameters));

    /// <summary>A typed message: type byte, int32 length counting itself, body.</summary>
    public static byte[] Message(char type, ReadOnlySpan<byte> body)
    {
        var message = new byte[5 + body.Length];
        message[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + body.Length);
        body.CopyTo(message.AsSpan(5));
        return message;
    }

    public Task SendMessageAsync(char type, ReadOnlySpan<byte> body) => SendRawAsync(Message(type, body));

    public Task SendPasswordAsync(string password) => SendMessageAsync('p', CString(password));

    public Task SendQueryAsync(string sql) => SendMessageAsync('Q', CString(sql));

    public static byte[] CString(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Array.Resize(ref bytes, bytes.Length + 1);
        return bytes;
    }

    private static void WriteCString(Stream stream, string value) => stream.Write(CString(value));

    // ------------------------------------------------------------ receiving

    /// <summary>Reads one message; null when the server closed the connection cleanly before it.</summary>
    public async Task<RawPgMessage?> ReadMessageAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            var header = new byte[5];
            int got = await ReadUpToAsync(header, cts.Token);
            if (got == 0) return null;
            if (got < header.Length) throw new EndOfStreamException($"the server closed the connection after {got} bytes of a message header");
            int length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1));
            if (length < 4 || length > 1 << 20) throw new InvalidDataException($"the server sent message '{(char)header[0]}' with length {length}");
            var body = new byte[length - 4];
            if (await ReadUpToAsync(body, cts.Token) < body.Length) throw new EndOfStreamException($"the server closed the connection inside message '{(char)header[0]}'");
            return new RawPgMessage((char)header[0], body);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no message from the emulator within {(timeout ?? DefaultTimeout).TotalSeconds} s");
        }
    }

    private async Task<int> ReadUpToAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int read = await Stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0) break;
            total += read;
        }
        return total;
    }

    /// <summary>
    /// Reads until an ErrorResponse, skipping notices and protocol negotiation, and returns its fields. Fails the
    /// test when the connection ends first or another message arrives.
    /// </summary>
    public async Task<IReadOnlyDictionary<char, string>> ExpectErrorAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            RawPgMessage? message;
            try
            {
                message = await ReadMessageAsync(timeout);
            }
            catch (Exception ex) when (ex is IOException or SocketException or EndOfStreamException)
            {
                throw new Xunit.Sdk.XunitException($"expected an ErrorResponse, but the connection failed first: {ex.GetType().Name}: {ex.Message}");
            }
            catch (TimeoutException ex)
            {
                throw new Xunit.Sdk.XunitException($"expected an ErrorResponse, but {ex.Message}");
            }
            if (message is null) throw new Xunit.Sdk.XunitException("expected an ErrorResponse, but the emulator closed the connection without one");
            if (message.Type is 'N' or 'v') continue;
            if (message.Type != 'E') throw new Xunit.Sdk.XunitException($"expected an ErrorResponse, got {message}");
            return message.ErrorFields();
        }
    }

    /// <summary>Reads (and discards) until the server closes the connection. Returns how it ended, or null on timeout.</summary>
    public async Task<string?> WaitForCloseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int read = await Stream.ReadAsync(buffer, cts.Token);
                if (read == 0) return "end of stream";
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
    }

    /// <summary>Password authentication the DSQL way: expect AuthenticationCleartextPassword, send the token, read up to ReadyForQuery.</summary>
    public async Task AuthenticateAsync(string token)
    {
        var request = await ReadMessageAsync() ?? throw new Xunit.Sdk.XunitException("the emulator closed the connection instead of asking for a password");
        if (request.Type != 'R' || request.ReadInt32() != 3) throw new Xunit.Sdk.XunitException($"expected AuthenticationCleartextPassword, got {request}");
        await SendPasswordAsync(token);
        while (true)
        {
            var message = await ReadMessageAsync() ?? throw new Xunit.Sdk.XunitException("the emulator closed the connection during authentication");
            if (message.Type == 'E') throw new Xunit.Sdk.XunitException($"authentication failed: {message}");
            if (message.Type == 'Z') return;
        }
    }

    // ------------------------------------------------------------ ending

    /// <summary>Drops the connection with a TCP reset (linger 0), as a crashed or killed client would.</summary>
    public void Abort()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
        Socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Stream.DisposeAsync();
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is being torn down on purpose; a failing close is not the test's concern.
        }
        Socket.Dispose();
    }
}
