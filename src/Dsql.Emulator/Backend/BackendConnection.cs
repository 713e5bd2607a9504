using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Dsql.Emulator.Protocol;

namespace Dsql.Emulator.Backend;

/// <summary>
/// One logged-in session on the PostgreSQL backend, opened with the emulator's own minimal protocol client
/// (trust, cleartext, MD5 and SCRAM-SHA-256 logins).
/// </summary>
internal sealed class BackendConnection : IDisposable
{
    private BackendConnection(Socket socket, NetworkStream stream)
    {
        Socket = socket;
        Stream = stream;
        Reader = new PgMessageReader(stream, PgConstants.MaxMessageLength);
        Writer = new PgMessageWriter(stream);
    }

    public Socket Socket { get; }
    public NetworkStream Stream { get; }
    public PgMessageReader Reader { get; }
    public PgMessageWriter Writer { get; }
    public int ProcessId { get; private set; }
    public int SecretKey { get; private set; }

    /// <summary>The ParameterStatus messages of the login, raw, to replay to the client.</summary>
    public List<byte[]> ParameterStatusMessages { get; } = new();

    /// <summary>Whether the server reported the session's role as a superuser (ParameterStatus <c>is_superuser</c>).</summary>
    public bool IsSuperuser { get; private set; }

    /// <summary>
    /// Connects and logs in. A login refused by the server raises <see cref="BackendErrorException"/> carrying the
    /// server's error fields, so that the emulator can pass the refusal on to its own client.
    /// </summary>
    /// <param name="target">The server, and the password of <see cref="BackendTarget.User"/> if it has one.</param>
    /// <param name="user">The role to log in as. The target's password is sent for the target's own user only.</param>
    /// <param name="parameters">Startup parameters; the target's <see cref="BackendTarget.SessionParameters"/> follow them.</param>
    /// <param name="cancellationToken">Cancels the connect and login.</param>
    /// <param name="allowSuperuser">
    /// False (the default, for client sessions): a login that turns out to be a PostgreSQL superuser is closed and
    /// refused like a role that may not log in, so that no client of the emulator ever holds a superuser session.
    /// True only for the emulator's own installation and jobs.
    /// </param>
    public static async Task<BackendConnection> OpenAsync(BackendTarget target, string user, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken, bool allowSuperuser = false)
    {
        var socket = await target.ConnectSocketAsync(cancellationToken).ConfigureAwait(false);
        var connection = new BackendConnection(socket, new NetworkStream(socket, ownsSocket: true));
        try
        {
            await connection.LoginAsync(target, user, parameters, cancellationToken).ConfigureAwait(false);
            if (connection.IsSuperuser && !allowSuperuser) throw NotPermitted(user);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private async Task LoginAsync(BackendTarget target, string user, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        Writer.BeginUntypedMessage();
        Writer.WriteInt32(PgConstants.ProtocolVersion3);
        Writer.WriteCString("user");
        Writer.WriteCString(user);
        Writer.WriteCString("database");
        Writer.WriteCString(target.Database);
        foreach (var (key, value) in parameters)
        {
            Writer.WriteCString(key);
            Writer.WriteCString(value);
        }
        foreach (var (key, value) in target.SessionParameters)
        {
            Writer.WriteCString(key);
            Writer.WriteCString(value);
        }
        Writer.WriteByte(0);
        Writer.EndMessage();
        await Writer.FlushAsync(cancellationToken).ConfigureAwait(false);

        ScramClient? scram = null;
        while (true)
        {
            var message = await Reader.ReadAsync(null, cancellationToken).ConfigureAwait(false);
            if (message.IsEnd) throw new IOException("the PostgreSQL backend closed the connection during login");
            switch (message.Type)
            {
                case PgConstants.Authentication:
                    scram = await AnswerAuthenticationAsync(message.Raw[5..], target, user, scram, cancellationToken).ConfigureAwait(false);
                    break;
                case PgConstants.ParameterStatus:
                    ParameterStatusMessages.Add(message.Raw.ToArray());
                    if (message.Body.StartsWith("is_superuser\0"u8)) IsSuperuser = message.Body["is_superuser\0".Length..].StartsWith("on\0"u8);
                    break;
                case PgConstants.BackendKeyData:
                    ProcessId = BinaryPrimitives.ReadInt32BigEndian(message.Body);
                    SecretKey = BinaryPrimitives.ReadInt32BigEndian(message.Body[4..]);
                    break;
                case PgConstants.ErrorResponse:
                    throw new BackendErrorException(PgErrorFields.Parse(message.Body));
                case PgConstants.ReadyForQuery:
                    return;
                default:
                    break; // NoticeResponse and NegotiateProtocolVersion need no answer.
            }
        }
    }

    private async Task<ScramClient?> AnswerAuthenticationAsync(ReadOnlyMemory<byte> bodyMemory, BackendTarget target, string user, ScramClient? scram, CancellationToken cancellationToken)
    {
        var body = bodyMemory.Span;
        int kind = BinaryPrimitives.ReadInt32BigEndian(body);
        // The target's password belongs to the target's own user (the emulator's installation role): a client session
        // asking to log in as any role the server protects with a password is refused as PostgreSQL would refuse a
        // role without the LOGIN attribute.
        string Password() => target.Password is not null && string.Equals(user, target.User, StringComparison.Ordinal)
            ? target.Password
            : throw NotPermitted(user);
        switch (kind)
        {
            case 0:
                return scram;
            case 3:
                SendPassword(Password());
                break;
            case 5:
            {
                string inner = Convert.ToHexString(MD5.HashData(Encoding.UTF8.GetBytes(Password() + user))).ToLowerInvariant();
                byte[] salted = [.. Encoding.ASCII.GetBytes(inner), .. body.Slice(4, 4)];
                SendPassword("md5" + Convert.ToHexString(MD5.HashData(salted)).ToLowerInvariant());
                break;
            }
            case 10:
            {
                scram = new ScramClient(Password());
                byte[] first = scram.ClientFirst();
                Writer.BeginMessage(PgConstants.Password);
                Writer.WriteCString("SCRAM-SHA-256");
                Writer.WriteInt32(first.Length);
                Writer.WriteRaw(first);
                Writer.EndMessage();
                break;
            }
            case 11:
            {
                byte[] final = (scram ?? throw new PgProtocolException("SASL continue without SASL start")).ClientFinal(body[4..]);
                Writer.BeginMessage(PgConstants.Password);
                Writer.WriteRaw(final);
                Writer.EndMessage();
                break;
            }
            case 12:
                (scram ?? throw new PgProtocolException("SASL final without SASL start")).VerifyServerFinal(body[4..]);
                return scram;
            default:
                throw new BackendLoginException($"the PostgreSQL backend ({target}) asks for authentication method {kind}, which the emulator does not support; use trust, password, md5 or scram-sha-256");
        }
        await Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return scram;
    }

    /// <summary>PostgreSQL's refusal of a role that may not log in (28000), used for roles reserved to the emulator.</summary>
    private static BackendErrorException NotPermitted(string user)
        => new(PgErrorFields.Create("FATAL", PgConstants.InvalidAuthorization, $"role \"{user}\" is not permitted to log in"));

    private void SendPassword(string password)
    {
        Writer.BeginMessage(PgConstants.Password);
        Writer.WriteCString(password);
        Writer.EndMessage();
    }

    /// <summary>
    /// Runs SQL through the simple query protocol and returns the first column of every data row;
    /// raises <see cref="BackendErrorException"/> on an error. For the emulator's own set-up statements.
    /// </summary>
    public async Task<List<string?>> QueryAsync(string sql, CancellationToken cancellationToken)
    {
        Writer.BeginMessage(PgConstants.Query);
        Writer.WriteCString(sql);
        Writer.EndMessage();
        await Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        var values = new List<string?>();
        PgErrorFields? error = null;
        while (true)
        {
            var message = await Reader.ReadAsync(null, cancellationToken).ConfigureAwait(false);
            if (message.IsEnd) throw new IOException("the PostgreSQL backend closed the connection");
            if (message.Type == (byte)'D')
            {
                var body = message.Body;
                int length = BinaryPrimitives.ReadInt32BigEndian(body[2..]);
                values.Add(length < 0 ? null : Encoding.UTF8.GetString(body.Slice(6, length)));
            }
            else if (message.Type == PgConstants.ErrorResponse) error = PgErrorFields.Parse(message.Body);
            else if (message.Type == PgConstants.ReadyForQuery)
            {
                if (error is not null) throw new BackendErrorException(error);
                return values;
            }
        }
    }

    /// <summary>Asks the backend to cancel what this session runs (PostgreSQL's CancelRequest on a new connection).</summary>
    public static async Task SendCancelAsync(BackendTarget target, int processId, int secretKey, CancellationToken cancellationToken)
    {
        using var socket = await target.ConnectSocketAsync(cancellationToken).ConfigureAwait(false);
        byte[] packet = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(packet, 16);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(4), PgConstants.CancelRequestCode);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(8), processId);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(12), secretKey);
        await socket.SendAsync(packet, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        // The server closes the connection once it has read the request.
        await socket.ReceiveAsync(new byte[1], SocketFlags.None, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => Stream.Dispose();
}

/// <summary>The backend answered with an ErrorResponse.</summary>
internal sealed class BackendErrorException(PgErrorFields fields)
    : Exception($"PostgreSQL backend error {fields.SqlState}: {fields.Message}")
{
    public PgErrorFields Fields { get; } = fields;
}

/// <summary>The emulator cannot log in to its backend as configured.</summary>
internal sealed class BackendLoginException(string message) : Exception(message);
