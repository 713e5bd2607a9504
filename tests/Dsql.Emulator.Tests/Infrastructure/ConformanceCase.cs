using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dsql.Emulator.Tests.Infrastructure;

/// <summary>One file of Conformance/*.json: probes recorded against a real DSQL cluster (see Conformance/README.md).</summary>
public sealed class ConformanceFile
{
    [JsonPropertyName("server_version")] public string? ServerVersion { get; set; }
    [JsonPropertyName("cases")] public List<ConformanceCase> Cases { get; set; } = [];

    /// <summary>Directory the recordings are copied to next to the test assembly.</summary>
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Conformance");

    private static readonly Lazy<IReadOnlyDictionary<string, ConformanceFile>> All = new(() =>
        System.IO.Directory.GetFiles(Directory, "*.json")
            .OrderBy(path => path, StringComparer.Ordinal)
            .ToDictionary(path => Path.GetFileName(path),
                path => JsonSerializer.Deserialize<ConformanceFile>(File.ReadAllText(path))
                        ?? throw new InvalidDataException($"{path} holds no recording")));

    /// <summary>Every recording file by file name (e.g. <c>transaction.json</c>).</summary>
    public static IReadOnlyDictionary<string, ConformanceFile> LoadAll() => All.Value;

    public static ConformanceCase Find(string file, string name) => LoadAll()[file].Cases.Single(c => c.Name == name);
}

public sealed class ConformanceCase
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("group")] public string? Group { get; set; }
    [JsonPropertyName("note")] public string? Note { get; set; }
    [JsonPropertyName("steps")] public List<string>? Steps { get; set; }
    [JsonPropertyName("observations")] public List<Observation>? Observations { get; set; }
    [JsonPropertyName("ignore_rows")] public bool IgnoreRows { get; set; }
    [JsonPropertyName("simple_protocol")] public bool SimpleProtocol { get; set; }
    [JsonPropertyName("record_only")] public bool RecordOnly { get; set; }
    [JsonPropertyName("sessions")] public List<List<Observation>>? Sessions { get; set; }
}

/// <summary>What the server answered to one step (or, in a simple-protocol step, the list of <see cref="Results"/>).</summary>
public sealed class Observation
{
    [JsonPropertyName("outcome")] public string Outcome { get; set; } = "";
    [JsonPropertyName("sqlstate")] public string? SqlState { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
    [JsonPropertyName("command_tag")] public string? CommandTag { get; set; }
    [JsonPropertyName("columns")] public List<string>? Columns { get; set; }
    [JsonPropertyName("rows")] public List<List<string?>>? Rows { get; set; }
    [JsonPropertyName("results")] public List<Observation>? Results { get; set; }

    public bool IsError => Outcome == "error";

    public override string ToString()
    {
        if (IsError) return $"error {SqlState} \"{Message}\"";
        if (Results is not null) return "ok [" + string.Join("; ", Results) + "]";
        var text = new StringBuilder("ok");
        if (CommandTag is not null) text.Append(" tag=\"").Append(CommandTag).Append('"');
        if (Columns is { Count: > 0 }) text.Append(" columns=[").Append(string.Join(", ", Columns)).Append(']');
        if (Rows is { Count: > 0 }) text.Append(" rows=[").Append(string.Join("; ", Rows.Select(r => string.Join(", ", r)))).Append(']');
        return text.ToString();
    }
}

/// <summary>
/// A minimal PostgreSQL wire-protocol client that sends a step as one simple-protocol <c>Query</c> message. Npgsql
/// never uses the simple protocol for user commands: it splits a multi-statement command text itself and sends
/// Parse/Bind/Describe/Execute per statement with a single Sync, which reaches a different path of the emulator
/// (Parse instead of Query). The recordings' <c>simple_protocol</c> cases were sent as one Query, so this replays
/// them the same way. It also reads the exact command tags, which Npgsql does not expose, so it replays the
/// extended-protocol cases a second time with the messages Npgsql sends.
/// </summary>
internal sealed class SimpleQueryClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly SslStream _stream;

    private SimpleQueryClient(TcpClient tcp, SslStream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    public static async Task<SimpleQueryClient> OpenAsync(DsqlEmulator emulator, string? searchPath)
    {
        var endpoint = emulator.Endpoints[0];
        var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint.ListenAddress, endpoint.Port);
        var network = tcp.GetStream();
        byte[] sslRequest = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(sslRequest, 8);
        BinaryPrimitives.WriteInt32BigEndian(sslRequest.AsSpan(4), 80877103);
        await network.WriteAsync(sslRequest);
        byte[] answer = new byte[1];
        await network.ReadExactlyAsync(answer);
        if (answer[0] != (byte)'S') throw new InvalidOperationException($"the emulator answered SSLRequest with '{(char)answer[0]}'");
        // TLS itself is tested elsewhere; these tests are about SQL, so the emulator's certificate is accepted as is.
        var tls = new SslStream(network, leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = endpoint.Host });
        var client = new SimpleQueryClient(tcp, tls);

        var startup = new List<byte>();
        void Pair(string key, string value)
        {
            startup.AddRange(Encoding.UTF8.GetBytes(key));
            startup.Add(0);
            startup.AddRange(Encoding.UTF8.GetBytes(value));
            startup.Add(0);
        }
        Pair("user", "admin");
        Pair("database", "postgres");
        if (searchPath is not null) Pair("search_path", searchPath);
        startup.Add(0);
        byte[] packet = new byte[8 + startup.Count];
        BinaryPrimitives.WriteInt32BigEndian(packet, packet.Length);
        BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(4), 196608);
        startup.CopyTo(packet, 8);
        await tls.WriteAsync(packet);
        await tls.FlushAsync();

        while (true)
        {
            var (type, body) = await client.ReadMessageAsync();
            switch (type)
            {
                case (byte)'R' when BinaryPrimitives.ReadInt32BigEndian(body) == 3:
                    await client.SendAsync((byte)'p', CString(TestTokens.For(emulator, endpoint)));
                    break;
                case (byte)'R':
                case (byte)'S':
                case (byte)'K':
                case (byte)'N':
                case (byte)'v':
                    break;
                case (byte)'E':
                    throw new InvalidOperationException("connection refused: " + ParseError(body));
                case (byte)'Z':
                    return client;
                default:
                    throw new InvalidOperationException($"unexpected message '{(char)type}' during startup");
            }
        }
    }

    /// <summary>Sends <paramref name="sql"/> as one Query message and collects the answers up to ReadyForQuery.</summary>
    public async Task<Observation> QueryAsync(string sql)
    {
        await SendAsync((byte)'Q', CString(sql));
        return await ReadAnswersAsync();
    }

    /// <summary>
    /// Sends <paramref name="sql"/> with the extended protocol as Npgsql does for a command without parameters
    /// (unnamed statement and portal: Parse, Bind, Describe, Execute, Sync), and returns its one result.
    /// </summary>
    public async Task<Observation> ExtendedAsync(string sql)
    {
        await SendAsync((byte)'P', [0, .. CString(sql), 0, 0]);               // unnamed statement, no parameter types
        await SendAsync((byte)'B', [0, 0, 0, 0, 0, 0, 0, 0]);                 // unnamed portal and statement, no formats, no values
        await SendAsync((byte)'D', [(byte)'P', 0]);                           // describe the unnamed portal
        await SendAsync((byte)'E', [0, 0, 0, 0, 0]);                          // unnamed portal, no row limit
        await SendAsync((byte)'S', []);
        var answer = await ReadAnswersAsync();
        if (answer.IsError) return answer;
        return Assert.Single(answer.Results!);
    }

    private async Task<Observation> ReadAnswersAsync()
    {
        var results = new List<Observation>();
        Observation? current = null;
        Observation? error = null;
        while (true)
        {
            var (type, body) = await ReadMessageAsync();
            switch (type)
            {
                case (byte)'T':
                    current = new Observation { Outcome = "ok", Columns = ParseRowDescription(body), Rows = [] };
                    break;
                case (byte)'D':
                    (current ??= new Observation { Outcome = "ok", Rows = [] }).Rows!.Add(ParseDataRow(body));
                    break;
                case (byte)'C':
                    current ??= new Observation { Outcome = "ok" };
                    current.CommandTag = Encoding.UTF8.GetString(body[..^1]);
                    if (current.Rows is { Count: 0 }) current.Rows = null;
                    results.Add(current);
                    current = null;
                    break;
                case (byte)'I':
                    current = null;
                    break;
                case (byte)'E':
                    error ??= ParseError(body);
                    current = null;
                    break;
                case (byte)'N':
                case (byte)'S':
                case (byte)'A':
                case (byte)'1': // ParseComplete
                case (byte)'2': // BindComplete
                case (byte)'n': // NoData
                    break;
                case (byte)'Z':
                    return error ?? new Observation { Outcome = "ok", Results = results };
                default:
                    throw new InvalidOperationException($"unexpected message '{(char)type}' answering a query");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await SendAsync((byte)'X', []);
        }
        catch (IOException)
        {
            // Already closed.
        }
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }

    private async Task SendAsync(byte type, byte[] body)
    {
        byte[] message = new byte[5 + body.Length];
        message[0] = type;
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + body.Length);
        body.CopyTo(message, 5);
        await _stream.WriteAsync(message);
        await _stream.FlushAsync();
    }

    private async Task<(byte Type, byte[] Body)> ReadMessageAsync()
    {
        byte[] head = new byte[5];
        await _stream.ReadExactlyAsync(head);
        byte[] body = new byte[BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(1)) - 4];
        await _stream.ReadExactlyAsync(body);
        return (head[0], body);
    }

    private static byte[] CString(string text) => [.. Encoding.UTF8.GetBytes(text), 0];

    private static string ReadCString(byte[] body, ref int offset)
    {
        int end = Array.IndexOf(body, (byte)0, offset);
        string text = Encoding.UTF8.GetString(body, offset, end - offset);
        offset = end + 1;
        return text;
    }

    private static List<string> ParseRowDescription(byte[] body)
    {
        int count = BinaryPrimitives.ReadInt16BigEndian(body);
        int offset = 2;
        var names = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            names.Add(ReadCString(body, ref offset));
            offset += 18; // table oid, attribute number, type oid, type size, type modifier, format
        }
        return names;
    }

    private static List<string?> ParseDataRow(byte[] body)
    {
        int count = BinaryPrimitives.ReadInt16BigEndian(body);
        int offset = 2;
        var values = new List<string?>(count);
        for (int i = 0; i < count; i++)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(offset));
            offset += 4;
            if (length < 0)
            {
                values.Add("NULL"); // as the recorder writes a NULL
                continue;
            }
            values.Add(Encoding.UTF8.GetString(body, offset, length));
            offset += length;
        }
        return values;
    }

    private static Observation ParseError(byte[] body)
    {
        var error = new Observation { Outcome = "error" };
        int offset = 0;
        while (offset < body.Length && body[offset] != 0)
        {
            byte field = body[offset++];
            string value = ReadCString(body, ref offset);
            if (field == (byte)'C') error.SqlState = value;
            else if (field == (byte)'M') error.Message = value;
        }
        return error;
    }
}
