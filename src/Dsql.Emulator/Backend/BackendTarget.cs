using System.Net;
using System.Net.Sockets;
using System.Globalization;

namespace Dsql.Emulator.Backend;

/// <summary>Where the emulator's PostgreSQL server listens and how to log in to it.</summary>
/// <remarks>
/// The emulator holds two targets over one server: the installation target (the superuser and its password, for
/// the emulator's own set-up), and the session target derived from it by <see cref="ForSessions"/> (no password,
/// and the startup parameters that tie each session to this emulator's limits).
/// </remarks>
internal sealed record BackendTarget(string Host, int Port, string Database, string? User, string? Password)
{
    /// <summary>Startup parameters added to every login through this target (after the caller's own).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> SessionParameters { get; init; } = [];

    /// <summary>The target client sessions log in through: same server, no password, with these startup parameters.</summary>
    public BackendTarget ForSessions(IReadOnlyList<KeyValuePair<string, string>> sessionParameters)
        => this with { Password = null, SessionParameters = sessionParameters };

    /// <summary>A host that starts with '/' is a Unix-socket directory, as in libpq and Npgsql.</summary>
    public bool IsUnixSocket => Host.StartsWith('/');

    public EndPoint CreateEndPoint() => IsUnixSocket
        ? new UnixDomainSocketEndPoint(Path.Combine(Host, $".s.PGSQL.{Port.ToString(CultureInfo.InvariantCulture)}"))
        : new DnsEndPoint(Host, Port);

    public async Task<Socket> ConnectSocketAsync(CancellationToken cancellationToken)
    {
        var endPoint = CreateEndPoint();
        var socket = IsUnixSocket
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Parses a connection string of the familiar <c>Key=Value;...</c> form (Host, Port, Database, Username,
    /// Password). Unknown keys are an error naming the key.
    /// </summary>
    public static BackendTarget Parse(string connectionString)
    {
        string host = "127.0.0.1", database = "postgres";
        string? user = null, password = null;
        int port = 5432;
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"Backend connection string: '{part}' is not a Key=Value pair.", nameof(connectionString));
            string key = part[..eq].Trim().ToLowerInvariant().Replace(" ", "", StringComparison.Ordinal);
            string value = part[(eq + 1)..].Trim();
            switch (key)
            {
                case "host" or "server": host = value; break;
                case "port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
                        throw new ArgumentException($"Backend connection string: Port '{value}' is not a port number (1-65535).", nameof(connectionString));
                    break;
                case "database" or "db": database = value; break;
                case "username" or "user" or "userid" or "user id": user = value; break;
                case "password" or "pwd": password = value; break;
                default:
                    throw new ArgumentException($"Backend connection string: unknown key '{part[..eq].Trim()}' (known: Host, Port, Database, Username, Password).", nameof(connectionString));
            }
        }
        if (host.Length == 0) throw new ArgumentException("Backend connection string: Host is empty.", nameof(connectionString));
        return new BackendTarget(host, port, database, user, password);
    }

    /// <summary>The connection string without the password, for messages and logs.</summary>
    public override string ToString() => $"Host={Host};Port={Port};Database={Database}" + (User is null ? "" : $";Username={User}");
}
