using System.Globalization;

namespace Dsql.Emulator.Cli;

/// <summary>The emulator host's command line: options map one to one onto <see cref="DsqlEmulatorOptions"/>.</summary>
internal sealed class CommandLine
{
    public const string Usage = """
        Local Aurora DSQL emulator: a PostgreSQL-protocol front end on loopback that requires TLS and DSQL IAM
        tokens and enforces DSQL's limits, in front of a real PostgreSQL server.

        Usage: dotnet run --project src/Dsql.Emulator -- [options]

        Endpoints and credentials
          --endpoint <host>[:<port>]   DSQL endpoint name clients sign tokens for (repeatable: several endpoints
                                       over one database, like a multi-Region cluster). Default:
                                       emulatorcluster00000000001.dsql.us-east-1.on.aws
          --port <port>                port of the first endpoint (default: a free port; 0 = free port)
          --region <region>            Region for endpoints whose name does not contain one
          --access-key <id>            access key id whose tokens are accepted (repeatable; pair each with
          --secret-key <secret>        a --secret-key, and optionally --session-token for temporary keys)
          --session-token <token>      Default key: AWS's documentation example AKIAIOSFODNN7EXAMPLE
          --ca-out <path>              write the emulator's CA certificate (PEM) here for verify-full clients

        Backend
          --backend <connection>       attach to an existing PostgreSQL server
                                       ("Host=...;Port=...;Username=...;Password=...;Database=...");
                                       default: start a throwaway cluster
          --pg-bin <dir>               directory of initdb, pg_ctl and postgres (default: PG_BIN, PATH,
                                       /usr/lib/postgresql/*/bin)
          --backend-max-connections <n>
                                       max_connections of the throwaway cluster; one backend per open
                                       session (1200)

        Limits (defaults are Aurora DSQL's)
          --max-connections <n>        open sessions per endpoint (10000)
          --connection-rate <n>        new connections per second per endpoint (100)
          --connection-burst <n>       connection burst (1000)
          --max-connection-age <s>     seconds before a session is closed (3600)
          --max-transaction-age <s>    seconds before a transaction is ended (300)
          --max-rows <n>               rows written per transaction (3000)
          --max-bytes <n>              bytes written per transaction (10485760)
          --lock-wait-timeout <ms>     wait for a locked row before failing with 40001 (200)
          --min-job-duration <ms>      shortest CREATE INDEX ASYNC / VALIDATE job (500)
          --clock-skew <s>             how far a token's date may be ahead of the clock (300)
          --handshake-timeout <s>      seconds a client has from connecting to sending its token (10)

        Other
          --verbose                    log every session
          --help                       show this text

        Prints "ready <address>:<port>" once it accepts connections; stops on Ctrl+C or SIGTERM.
        """;

    public bool ShowHelp { get; private set; }
    public bool Verbose { get; private set; }
    public DsqlEmulatorOptions Options { get; } = new();

    /// <summary>Parses arguments; every problem names the option and the value at fault.</summary>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new CommandLine();
        var endpoints = new List<(string Host, int Port)>();
        var accessKeys = new List<string>();
        var secretKeys = new List<string>();
        var sessionTokens = new List<string?>();
        int? firstPort = null;
        string? region = null;
        for (int i = 0; i < args.Count; i++)
        {
            string option = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new CommandLineException($"{option} needs a value.");
                return args[++i];
            }
            switch (option)
            {
                case "--help" or "-h" or "-?":
                    result.ShowHelp = true;
                    break;
                case "--verbose":
                    result.Verbose = true;
                    break;
                case "--endpoint":
                {
                    string value = Value();
                    int colon = value.LastIndexOf(':');
                    if (colon > 0) endpoints.Add((value[..colon], ParsePort(option, value[(colon + 1)..])));
                    else endpoints.Add((value, 0));
                    if (string.IsNullOrWhiteSpace(endpoints[^1].Host)) throw new CommandLineException($"--endpoint '{value}' has an empty host name.");
                    break;
                }
                case "--port":
                    firstPort = ParsePort(option, Value());
                    break;
                case "--region":
                    region = Value();
                    if (!IsRegionName(region)) throw new CommandLineException($"--region '{region}' is not a Region name like us-east-1.");
                    break;
                case "--access-key":
                    accessKeys.Add(Value());
                    sessionTokens.Add(null);
                    break;
                case "--secret-key":
                    secretKeys.Add(Value());
                    break;
                case "--session-token":
                    if (sessionTokens.Count == 0) throw new CommandLineException("--session-token must follow the --access-key it belongs to.");
                    sessionTokens[^1] = Value();
                    break;
                case "--ca-out":
                    result.Options.CaCertificateOutputPath = Value();
                    break;
                case "--backend":
                    result.Options.BackendConnectionString = Value();
                    break;
                case "--pg-bin":
                    result.Options.PgBin = Value();
                    break;
                case "--backend-max-connections":
                    result.Options.BackendMaxConnections = ParseInt(option, Value(), 1);
                    break;
                case "--handshake-timeout":
                    result.Options.HandshakeTimeout = TimeSpan.FromSeconds(ParseDouble(option, Value()));
                    break;
                case "--max-connections":
                    result.Options.MaxConnections = ParseInt(option, Value(), 1);
                    break;
                case "--connection-rate":
                    result.Options.ConnectionRatePerSecond = ParseDouble(option, Value());
                    break;
                case "--connection-burst":
                    result.Options.ConnectionBurst = ParseInt(option, Value(), 1);
                    break;
                case "--max-connection-age":
                    result.Options.MaxConnectionAge = TimeSpan.FromSeconds(ParseDouble(option, Value()));
                    break;
                case "--max-transaction-age":
                    result.Options.MaxTransactionAge = TimeSpan.FromSeconds(ParseDouble(option, Value()));
                    break;
                case "--max-rows":
                    result.Options.MaxRowsPerTransaction = ParseInt(option, Value(), 1);
                    break;
                case "--max-bytes":
                    result.Options.MaxBytesPerTransaction = ParseLong(option, Value());
                    break;
                case "--lock-wait-timeout":
                    result.Options.LockWaitTimeout = TimeSpan.FromMilliseconds(ParseInt(option, Value(), 0));
                    break;
                case "--min-job-duration":
                    result.Options.MinimumJobDuration = TimeSpan.FromMilliseconds(ParseInt(option, Value(), 0));
                    break;
                case "--clock-skew":
                    result.Options.AllowedClockSkew = TimeSpan.FromSeconds(ParseInt(option, Value(), 0));
                    break;
                default:
                    throw new CommandLineException($"Unknown option '{option}'. Run with --help for the list.");
            }
        }

        if (accessKeys.Count != secretKeys.Count)
            throw new CommandLineException($"Each --access-key needs one --secret-key: got {accessKeys.Count} access key(s) and {secretKeys.Count} secret key(s).");
        for (int i = 0; i < accessKeys.Count; i++)
            result.Options.AccessKeys.Add(new EmulatorAccessKey(accessKeys[i], secretKeys[i], sessionTokens[i]));

        if (endpoints.Count == 0) endpoints.Add((EmulatorEndpoint.DefaultHost, 0));
        if (firstPort is { } port)
        {
            if (endpoints[0].Port != 0 && endpoints[0].Port != port)
                throw new CommandLineException($"--port {port} and --endpoint {endpoints[0].Host}:{endpoints[0].Port} disagree on the first endpoint's port.");
            endpoints[0] = (endpoints[0].Host, port);
        }
        foreach (var (host, endpointPort) in endpoints)
        {
            string? endpointRegion = EmulatorEndpoint.RegionFromHost(host) ?? region;
            if (endpointRegion is null)
                throw new CommandLineException($"--endpoint '{host}' does not name a Region (<cluster-id>.dsql.<region>.on.aws): add --region.");
            result.Options.Endpoints.Add(new EmulatorEndpoint(host, endpointRegion, endpointPort));
        }
        return result;
    }

    private static bool IsRegionName(string value)
    {
        if (value.Length is < 3 or > 32) return false;
        foreach (char c in value)
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')) return false;
        return true;
    }

    private static int ParsePort(string option, string value)
        => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 0 and <= 65535
            ? port
            : throw new CommandLineException($"{option}: '{value}' is not a port number (0-65535).");

    private static int ParseInt(string option, string value, int minimum)
        => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int result) && result >= minimum
            ? result
            : throw new CommandLineException($"{option}: '{value}' is not a whole number of at least {minimum}.");

    private static long ParseLong(string option, string value)
        => long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long result) && result >= 1
            ? result
            : throw new CommandLineException($"{option}: '{value}' is not a whole number of at least 1.");

    private static double ParseDouble(string option, string value)
        => double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double result) && result > 0 && double.IsFinite(result)
            ? result
            : throw new CommandLineException($"{option}: '{value}' is not a positive number.");
}

/// <summary>A command-line argument is wrong; the message names it.</summary>
internal sealed class CommandLineException(string message) : Exception(message);
