using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Dsql.Emulator.Tool.Cli;

/// <summary>
/// The <c>dsql-emulator</c> command line, parsed by System.CommandLine: the root command starts an emulator (its
/// options map one to one onto <see cref="DsqlEmulatorOptions"/>), <c>token</c> signs a token for psql.
/// </summary>
internal sealed class CommandLine
{
    /// <summary>Environment variable holding the secret access key of a single <c>--access-key</c>, so that it does not appear in <c>ps</c>.</summary>
    public const string SecretKeyVariable = "DSQL_EMULATOR_SECRET_KEY";

    /// <summary>Environment variable holding the session token of a single <c>--access-key</c>.</summary>
    public const string SessionTokenVariable = "DSQL_EMULATOR_SESSION_TOKEN";

    private CommandLine(ParseResult parseResult, bool showHelp, bool verbose, DsqlEmulatorOptions options, TokenRequest? token, bool showVersion = false,
        IReadOnlyList<EndpointFaultSpec>? faults = null)
    {
        Faults = faults ?? [];
        ParseResult = parseResult;
        ShowHelp = showHelp;
        ShowVersion = showVersion;
        Verbose = verbose;
        Options = options;
        Token = token;
    }

    /// <summary>The raw parse (its action prints help or the version).</summary>
    public ParseResult ParseResult { get; }

    /// <summary><c>--help</c> (or <c>-h</c>, <c>-?</c>) was given: print help and do nothing else.</summary>
    public bool ShowHelp { get; }

    /// <summary><c>--version</c> was given: print the version and do nothing else.</summary>
    public bool ShowVersion { get; }

    /// <summary><c>--verbose</c>: log every session.</summary>
    public bool Verbose { get; }

    /// <summary>The emulator's options, bound from the command line (defaults: DSQL's limits).</summary>
    public DsqlEmulatorOptions Options { get; }

    /// <summary>The endpoints that start unavailable or failing a fraction of their work (<c>--fault</c>).</summary>
    public IReadOnlyList<EndpointFaultSpec> Faults { get; }

    /// <summary>Set when the <c>token</c> command was given: what to sign.</summary>
    public TokenRequest? Token { get; }

    /// <summary>
    /// Parses arguments; every problem names the option and the value at fault (never a secret's value).
    /// <paramref name="environment"/> reads environment variables (default: the process environment).
    /// </summary>
    /// <exception cref="CommandLineException">The arguments are wrong; the message lists every problem.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        var definition = new Definition();
        var parseResult = definition.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var problems = new List<string>();
        foreach (var error in parseResult.Errors) problems.Add(error.Message);
        bool help = parseResult.Action is HelpAction or HelpWithCredentialsAction;
        if (help || definition.IsVersion(parseResult))
            return new CommandLine(parseResult, help, false, new DsqlEmulatorOptions(), null, showVersion: !help);
        if (problems.Count > 0) throw new CommandLineException(problems);

        environment ??= Environment.GetEnvironmentVariable;
        if (parseResult.CommandResult.Command == definition.TokenCommand)
        {
            var request = definition.BindToken(parseResult, environment, problems);
            if (problems.Count > 0) throw new CommandLineException(problems);
            return new CommandLine(parseResult, false, false, new DsqlEmulatorOptions(), request);
        }

        var options = definition.BindServe(parseResult, environment, problems);
        var faults = definition.BindFaults(parseResult, options, problems);
        if (problems.Count > 0) throw new CommandLineException(problems);
        return new CommandLine(parseResult, false, parseResult.GetValue(definition.Verbose), options, null, faults: faults);
    }

    /// <summary>Writes the section that follows the root command's help: the local credentials and what the emulator prints.</summary>
    internal static void WriteCredentialsSection(TextWriter output) => Definition.WriteCredentialsSection(output);

    /// <summary>The text <c>--help</c> prints for the root command (for tests and docs).</summary>
    public static string HelpText()
    {
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        var parseResult = new Definition().Root.Parse(["--help"]);
        parseResult.Invoke(new InvocationConfiguration { Output = writer });
        return writer.ToString();
    }

    /// <summary>The symbols of both commands; one instance per parse.</summary>
    private sealed class Definition
    {
        private static readonly DsqlEmulatorOptions Defaults = new();

        public readonly RootCommand Root = new(
            "Local Aurora DSQL emulator: a PostgreSQL-protocol front end on loopback that requires TLS and DSQL IAM " +
            "tokens and enforces DSQL's limits and SQL rules, in front of a real PostgreSQL server. Prints connection " +
            "strings for Dsql.Connector and psql, then \"ready <address>:<port>\"; stops on Ctrl+C or SIGTERM.");

        public readonly Command TokenCommand = new("token",
            "Print a DSQL authentication token for an emulator endpoint (for psql: PGPASSWORD=\"$(dsql-emulator token)\"). " +
            "Signed with the example key unless --access-key is given.");

        // ---- endpoints and credentials (root)
        public readonly Option<string[]> Endpoint = new("--endpoint")
        {
            Description = "DSQL endpoint name clients sign tokens for, optionally with a port; repeat for several endpoints " +
                          "over one database (a multi-Region cluster)",
            HelpName = "host[:port]",
            Arity = ArgumentArity.OneOrMore,
            DefaultValueFactory = _ => [EmulatorEndpoint.DefaultHost],
        };

        public readonly Option<int?> Port = new("--port")
        {
            Description = "Port of the first endpoint [default: a free port; 0 = a free port]",
            HelpName = "port",
        };

        public readonly Option<string?> Region = RegionOption("Region of endpoint names that do not contain one (<cluster-id>.dsql.<region>.on.aws)");

        public readonly Option<string[]> AccessKey = AccessKeyOption(
            "Access key id whose tokens are accepted; repeat for several, each followed by its secret " +
            "[default: the example key shown below]");
        public readonly Option<string[]> SecretKey = SecretKeyOption();
        public readonly Option<string[]> SecretKeyFile = SecretKeyFileOption();
        public readonly Option<string[]> SessionToken = SessionTokenOption();
        public readonly Option<string[]> SessionTokenFile = SessionTokenFileOption();

        public readonly Option<string?> CaOut = new("--ca-out")
        {
            Description = "Write the emulator's CA certificate (PEM) here for verify-full clients [default: a file in the emulator's work directory]",
            HelpName = "path",
        };

        // ---- backend
        public readonly Option<string?> Backend = new("--backend")
        {
            Description = "Attach to an existing PostgreSQL server (\"Host=...;Port=...;Username=...;Password=...;Database=...\"; " +
                          "a superuser) [default: start a throwaway cluster]",
            HelpName = "connection string",
        };

        public readonly Option<string?> PgBin = new("--pg-bin")
        {
            Description = "Directory of initdb, pg_ctl and postgres [default: PG_BIN, PATH, /usr/lib/postgresql/*/bin]",
            HelpName = "dir",
        };

        public readonly Option<int> BackendMaxConnections = IntOption("--backend-max-connections", "n",
            "max_connections of the throwaway cluster; one backend per open session", Defaults.BackendMaxConnections, 1);

        // ---- limits
        public readonly Option<int> MaxConnections = IntOption("--max-connections", "n", "Open sessions per endpoint (DSQL: 10,000)", Defaults.MaxConnections, 1);
        public readonly Option<double> ConnectionRate = PositiveOption("--connection-rate", "n", "New connections per second per endpoint (DSQL: 100)", Defaults.ConnectionRatePerSecond);
        public readonly Option<int> ConnectionBurst = IntOption("--connection-burst", "n", "Connections that may arrive at once before the rate applies (DSQL: 1,000)", Defaults.ConnectionBurst, 1);
        public readonly Option<double> MaxConnectionAge = PositiveOption("--max-connection-age", "seconds", "Age at which a session is closed (DSQL: 60 minutes)", Defaults.MaxConnectionAge.TotalSeconds);
        public readonly Option<double> MaxTransactionAge = PositiveOption("--max-transaction-age", "seconds", "Age at which a transaction is ended with 54000 (DSQL: 300 s)", Defaults.MaxTransactionAge.TotalSeconds);
        public readonly Option<int> MaxRows = IntOption("--max-rows", "n", "Rows written per transaction (DSQL: 3,000)", Defaults.MaxRowsPerTransaction, 1);
        public readonly Option<long> MaxBytes = LongOption("--max-bytes", "n", "Bytes written per transaction (DSQL: 10 MiB)", Defaults.MaxBytesPerTransaction);
        public readonly Option<int> LockWaitTimeout = IntOption("--lock-wait-timeout", "ms",
            "Wait for a row locked by another transaction before failing with 40001 (DSQL never waits)", (int)Defaults.LockWaitTimeout.TotalMilliseconds, 0);
        public readonly Option<int> ClockSkew = IntOption("--clock-skew", "seconds",
            "How far a token's date may lie ahead of the clock", (int)Defaults.AllowedClockSkew.TotalSeconds, 0);
        public readonly Option<double> HandshakeTimeout = PositiveOption("--handshake-timeout", "seconds",
            "Time a client has from connecting to sending its token", Defaults.HandshakeTimeout.TotalSeconds);
        public readonly Option<int> MinJobDuration = IntOption("--min-job-duration", "ms",
            "Shortest time an asynchronous index or validation job takes (DSQL's take seconds)", (int)Defaults.MinimumJobDuration.TotalMilliseconds, 0);

        public readonly Option<string[]> Fault = new("--fault")
        {
            Description = "Start with an endpoint unavailable, as during a Region impairment: unavailable (= refuse-connects: " +
                          "FATAL XX000 server unavailable), reset-connects, cut-sessions, drop-sessions, server-unavailable " +
                          "(every statement fails XX000), stall-connects, or fail-fraction:<0..1>[:<seed>]; repeat for several endpoints",
            HelpName = "host=mode",
        };

        public readonly Option<bool> Verbose = new("--verbose") { Description = "Log every session to stderr" };

        // ---- token command
        public readonly Option<string> TokenEndpoint = new("--endpoint")
        {
            Description = "The endpoint name to sign for",
            HelpName = "host",
            DefaultValueFactory = _ => EmulatorEndpoint.DefaultHost,
        };

        public readonly Option<string?> TokenRegion = RegionOption("Region to sign for [default: read from the endpoint name]");

        public readonly Option<string> TokenUser = new("--user")
        {
            Description = "Role the token is for: admin signs DbConnectAdmin, any other role DbConnect",
            HelpName = "role",
            DefaultValueFactory = _ => "admin",
        };

        public readonly Option<int> ExpiresIn = IntOption("--expires-in", "seconds", "Lifetime of the token (1 to 604800)", 900, 1);
        public readonly Option<string[]> TokenAccessKey = AccessKeyOption(
            $"Access key id to sign with [default: the example key {DsqlEmulatorOptions.ExampleAccessKeyId}]");
        public readonly Option<string[]> TokenSecretKey = SecretKeyOption();
        public readonly Option<string[]> TokenSecretKeyFile = SecretKeyFileOption();
        public readonly Option<string[]> TokenSessionToken = SessionTokenOption();
        public readonly Option<string[]> TokenSessionTokenFile = SessionTokenFileOption();

        public Definition()
        {
            Port.CustomParser = result => ParsePort(result, "--port", result.Tokens[0].Value);
            foreach (var option in (Option[])
                     [Endpoint, Port, Region, AccessKey, SecretKey, SecretKeyFile, SessionToken, SessionTokenFile, CaOut,
                      Backend, PgBin, BackendMaxConnections,
                      MaxConnections, ConnectionRate, ConnectionBurst, MaxConnectionAge, MaxTransactionAge, MaxRows, MaxBytes,
                      LockWaitTimeout, ClockSkew, HandshakeTimeout, MinJobDuration, Fault, Verbose])
                Root.Options.Add(option);
            foreach (var option in (Option[])
                     [TokenEndpoint, TokenRegion, TokenUser, ExpiresIn, TokenAccessKey, TokenSecretKey, TokenSecretKeyFile,
                      TokenSessionToken, TokenSessionTokenFile])
                TokenCommand.Options.Add(option);
            Root.Subcommands.Add(TokenCommand);
            foreach (var command in (Command[])[Root, TokenCommand])
                foreach (var option in command.Options)
                    if (option.Arity.MaximumNumberOfValues > 0) option.Validators.Add(result => RefuseOptionAsValue(result, command));
            Root.SetAction(_ => 0); // runnable without a subcommand: Program starts the emulator
            TokenCommand.SetAction(_ => 0);

            foreach (var option in Root.Options)
                if (option is HelpOption { Action: HelpAction help } helpOption)
                    helpOption.Action = new HelpWithCredentialsAction(help);
        }

        /// <summary>True when the parse asks for the version (<c>--version</c>), which prints and exits like help.</summary>
        public bool IsVersion(ParseResult parse)
            => parse.Action is not null && Root.Options.OfType<VersionOption>().Any(option => ReferenceEquals(option.Action, parse.Action));

        public DsqlEmulatorOptions BindServe(ParseResult parse, Func<string, string?> environment, List<string> problems)
        {
            var options = new DsqlEmulatorOptions
            {
                CaCertificateOutputPath = parse.GetValue(CaOut),
                BackendConnectionString = parse.GetValue(Backend),
                PgBin = parse.GetValue(PgBin),
                BackendMaxConnections = parse.GetValue(BackendMaxConnections),
                MaxConnections = parse.GetValue(MaxConnections),
                ConnectionRatePerSecond = parse.GetValue(ConnectionRate),
                ConnectionBurst = parse.GetValue(ConnectionBurst),
                MaxConnectionAge = TimeSpan.FromSeconds(parse.GetValue(MaxConnectionAge)),
                MaxTransactionAge = TimeSpan.FromSeconds(parse.GetValue(MaxTransactionAge)),
                MaxRowsPerTransaction = parse.GetValue(MaxRows),
                MaxBytesPerTransaction = parse.GetValue(MaxBytes),
                LockWaitTimeout = TimeSpan.FromMilliseconds(parse.GetValue(LockWaitTimeout)),
                AllowedClockSkew = TimeSpan.FromSeconds(parse.GetValue(ClockSkew)),
                HandshakeTimeout = TimeSpan.FromSeconds(parse.GetValue(HandshakeTimeout)),
                MinimumJobDuration = TimeSpan.FromMilliseconds(parse.GetValue(MinJobDuration)),
            };

            foreach (var key in BindKeys(parse, environment, problems, AccessKey, SecretKey, SecretKeyFile, SessionToken, SessionTokenFile))
                options.AccessKeys.Add(key);

            string? region = parse.GetValue(Region);
            var endpoints = new List<(string Host, int Port)>();
            foreach (string value in parse.GetValue(Endpoint) ?? [])
            {
                int colon = value.LastIndexOf(':');
                string host = colon > 0 ? value[..colon] : value;
                int port = 0;
                if (colon > 0 && !TryParsePort(value[(colon + 1)..], out port))
                {
                    problems.Add($"--endpoint '{value}': '{value[(colon + 1)..]}' is not a port number (0-65535).");
                    continue;
                }
                if (string.IsNullOrWhiteSpace(host) || colon == 0)
                {
                    problems.Add($"--endpoint '{value}' has an empty host name.");
                    continue;
                }
                endpoints.Add((host, port));
            }
            if (endpoints.Count > 0 && parse.GetValue(Port) is { } firstPort)
            {
                if (endpoints[0].Port != 0 && endpoints[0].Port != firstPort)
                    problems.Add($"--port {firstPort} and --endpoint {endpoints[0].Host}:{endpoints[0].Port} disagree on the first endpoint's port.");
                endpoints[0] = (endpoints[0].Host, firstPort);
            }
            foreach (var (host, port) in endpoints)
            {
                string? endpointRegion = EmulatorEndpoint.RegionFromHost(host) ?? region;
                if (endpointRegion is null)
                    problems.Add($"--endpoint '{host}' does not name a Region (<cluster-id>.dsql.<region>.on.aws): add --region.");
                else
                    options.Endpoints.Add(new EmulatorEndpoint(host, endpointRegion, port));
            }
            return options;
        }

        /// <summary>Binds <c>--fault</c>: each names one of the endpoints, once.</summary>
        public List<EndpointFaultSpec> BindFaults(ParseResult parse, DsqlEmulatorOptions options, List<string> problems)
        {
            var faults = new List<EndpointFaultSpec>();
            var hosts = options.Endpoints.Count > 0 ? options.Endpoints.Select(e => e.Host).ToList() : [EmulatorEndpoint.DefaultHost];
            foreach (string value in parse.GetValue(Fault) ?? [])
            {
                if (EndpointFaultSpec.Parse(value, problems) is not { } fault) continue;
                if (!hosts.Contains(fault.Host, StringComparer.OrdinalIgnoreCase))
                    problems.Add($"--fault '{value}': '{fault.Host}' is not one of the endpoints ({string.Join(", ", hosts)}).");
                else if (faults.Any(f => string.Equals(f.Host, fault.Host, StringComparison.OrdinalIgnoreCase)))
                    problems.Add($"--fault '{value}': endpoint '{fault.Host}' has a fault already.");
                else
                    faults.Add(fault);
            }
            return faults;
        }

        public TokenRequest? BindToken(ParseResult parse, Func<string, string?> environment, List<string> problems)
        {
            string host = parse.GetValue(TokenEndpoint)!;
            string? region = parse.GetValue(TokenRegion) ?? EmulatorEndpoint.RegionFromHost(host);
            if (region is null) problems.Add($"--endpoint '{host}' does not name a Region (<cluster-id>.dsql.<region>.on.aws): add --region.");
            int expires = parse.GetValue(ExpiresIn);
            if (expires > 604_800) problems.Add($"--expires-in: '{expires}' is more than 604800 seconds (7 days, DSQL's maximum).");
            var keys = BindKeys(parse, environment, problems, TokenAccessKey, TokenSecretKey, TokenSecretKeyFile, TokenSessionToken, TokenSessionTokenFile);
            if (keys.Count > 1) problems.Add($"--access-key is given {keys.Count} times: a token is signed with one key.");
            string user = parse.GetValue(TokenUser)!;
            if (user.Length == 0) problems.Add("--user '' is empty: give a role such as admin.");
            if (problems.Count > 0) return null;
            var key = keys.Count == 1 ? keys[0] : new EmulatorAccessKey(DsqlEmulatorOptions.ExampleAccessKeyId, DsqlEmulatorOptions.ExampleSecretAccessKey);
            return new TokenRequest(host, region!, user, TimeSpan.FromSeconds(expires), key);
        }

        /// <summary>
        /// Pairs access keys with secrets in command-line order (a secret from --secret-key or --secret-key-file); a
        /// session token belongs to the access key before it. With one access key and no secret on the command line,
        /// the secret (and session token) may come from the environment.
        /// </summary>
        private static List<EmulatorAccessKey> BindKeys(ParseResult parse, Func<string, string?> environment, List<string> problems,
            Option accessKeyOption, Option secretKeyOption, Option secretKeyFileOption, Option sessionTokenOption, Option sessionTokenFileOption)
        {
            var accessKeys = new List<string>();
            var secrets = new List<string>();
            var sessionTokens = new List<string?>();
            // System.CommandLine collects each option's values on their own; the pairing needs their order on the
            // command line, which the positions of the value tokens give.
            var occurrences = new List<(int Position, Option Option, string Value)>();
            foreach (var option in (Option[])[accessKeyOption, secretKeyOption, secretKeyFileOption, sessionTokenOption, sessionTokenFileOption])
                if (parse.GetResult(option) is { } result)
                    foreach (var token in result.Tokens)
                        occurrences.Add((PositionOf(parse.Tokens, token), option, token.Value));
            occurrences.Sort((a, b) => a.Position.CompareTo(b.Position));
            foreach (var (_, option, value) in occurrences)
            {
                if (option == accessKeyOption)
                {
                    accessKeys.Add(value);
                    sessionTokens.Add(null);
                }
                else if (option == secretKeyOption)
                {
                    secrets.Add(value);
                }
                else if (option == secretKeyFileOption)
                {
                    secrets.Add(ReadSecretFile("--secret-key-file", value, problems) ?? "");
                }
                else
                {
                    string name = option == sessionTokenOption ? "--session-token" : "--session-token-file";
                    if (sessionTokens.Count == 0)
                    {
                        problems.Add($"{name} must follow the --access-key it belongs to.");
                        continue;
                    }
                    if (sessionTokens[^1] is not null)
                    {
                        problems.Add($"--access-key '{accessKeys[^1]}' has two session tokens (--session-token / --session-token-file).");
                        continue;
                    }
                    sessionTokens[^1] = option == sessionTokenOption ? value : ReadSecretFile(name, value, problems) ?? "";
                }
            }

            string? secretFromEnvironment = NonEmpty(environment(SecretKeyVariable));
            string? sessionFromEnvironment = NonEmpty(environment(SessionTokenVariable));
            if (accessKeys.Count == 1 && secrets.Count == 0 && secretFromEnvironment is not null)
            {
                secrets.Add(secretFromEnvironment);
                sessionTokens[0] ??= sessionFromEnvironment;
            }
            else if (accessKeys.Count == 0 && secrets.Count == 0 && (secretFromEnvironment ?? sessionFromEnvironment) is not null)
            {
                problems.Add($"{(secretFromEnvironment is not null ? SecretKeyVariable : SessionTokenVariable)} is set but no --access-key names the key it belongs to: add --access-key <id>.");
            }

            if (accessKeys.Count != secrets.Count)
            {
                problems.Add($"Each --access-key needs one secret (--secret-key, --secret-key-file, or {SecretKeyVariable} for a single key): " +
                             $"got {accessKeys.Count} access key(s) and {secrets.Count} secret key(s).");
                return [];
            }
            var keys = new List<EmulatorAccessKey>();
            for (int i = 0; i < accessKeys.Count; i++)
                keys.Add(new EmulatorAccessKey(accessKeys[i], secrets[i], sessionTokens[i]));
            return keys;
        }

        /// <summary>An option's value that is itself one of the command's options means the value was left out.</summary>
        private static void RefuseOptionAsValue(OptionResult result, Command command)
        {
            foreach (var token in result.Tokens)
                foreach (var option in command.Options)
                    if (option.Name == token.Value || option.Aliases.Contains(token.Value))
                        result.AddError($"{result.Option.Name} needs a value: '{token.Value}' is an option.");
        }

        private static int PositionOf(IReadOnlyList<Token> tokens, Token token)
        {
            for (int i = 0; i < tokens.Count; i++)
                if (ReferenceEquals(tokens[i], token)) return i;
            return int.MaxValue;
        }

        /// <summary>Reads a secret from a file: its whole text, without the line break an editor or <c>echo</c> leaves at the end.</summary>
        private static string? ReadSecretFile(string option, string path, List<string> problems)
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                problems.Add($"{option} '{path}' cannot be read: {ex.Message}");
                return null;
            }
            text = text.TrimEnd('\r', '\n');
            if (text.Length == 0)
            {
                problems.Add($"{option} '{path}' is empty.");
                return null;
            }
            return text;
        }

        private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

        private static Option<string?> RegionOption(string description)
        {
            var option = new Option<string?>("--region") { Description = description, HelpName = "region" };
            option.CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                if (IsRegionName(value)) return value;
                result.AddError($"--region '{value}' is not a Region name like us-east-1.");
                return null;
            };
            return option;
        }

        private static Option<string[]> AccessKeyOption(string description) => new("--access-key")
        {
            Description = description,
            HelpName = "id",
        };

        private static Option<string[]> SecretKeyOption() => new("--secret-key")
        {
            Description = "Secret of the --access-key before it (visible in ps: prefer --secret-key-file or " + SecretKeyVariable + ")",
            HelpName = "secret",
        };

        private static Option<string[]> SecretKeyFileOption() => new("--secret-key-file")
        {
            Description = "File holding the secret of the --access-key before it (one line)",
            HelpName = "path",
        };

        private static Option<string[]> SessionTokenOption() => new("--session-token")
        {
            Description = "Session token of the --access-key before it: a temporary key, tokens must carry it " +
                          "(visible in ps: prefer --session-token-file or " + SessionTokenVariable + ")",
            HelpName = "token",
        };

        private static Option<string[]> SessionTokenFileOption() => new("--session-token-file")
        {
            Description = "File holding the session token of the --access-key before it",
            HelpName = "path",
        };

        private static Option<int> IntOption(string name, string helpName, string description, int defaultValue, int minimum)
        {
            var option = new Option<int>(name) { Description = description, HelpName = helpName, DefaultValueFactory = _ => defaultValue };
            option.CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) && parsed >= minimum) return parsed;
                result.AddError($"{name}: '{value}' is not a whole number of at least {minimum}.");
                return defaultValue;
            };
            return option;
        }

        private static Option<long> LongOption(string name, string helpName, string description, long defaultValue)
        {
            var option = new Option<long>(name) { Description = description, HelpName = helpName, DefaultValueFactory = _ => defaultValue };
            option.CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long parsed) && parsed >= 1) return parsed;
                result.AddError($"{name}: '{value}' is not a whole number of at least 1.");
                return defaultValue;
            };
            return option;
        }

        private static Option<double> PositiveOption(string name, string helpName, string description, double defaultValue)
        {
            var option = new Option<double>(name) { Description = description, HelpName = helpName, DefaultValueFactory = _ => defaultValue };
            option.CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                if (double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double parsed) && parsed > 0 && double.IsFinite(parsed))
                    return parsed;
                result.AddError($"{name}: '{value}' is not a positive number.");
                return defaultValue;
            };
            return option;
        }

        private static int? ParsePort(ArgumentResult result, string name, string value)
        {
            if (TryParsePort(value, out int port)) return port;
            result.AddError($"{name}: '{value}' is not a port number (0-65535).");
            return null;
        }

        private static bool TryParsePort(string value, out int port)
            => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 0 and <= 65535;

        private static bool IsRegionName(string value)
        {
            if (value.Length is < 3 or > 32) return false;
            foreach (char c in value)
                if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')) return false;
            return true;
        }

        /// <summary>Writes the section that follows the root command's help: the local credentials and what the emulator prints.</summary>
        public static void WriteCredentialsSection(TextWriter output)
        {
            output.WriteLine($"""
                Credentials for local use:
                  Unless --access-key is given, the emulator accepts tokens signed with AWS's documentation example key,
                  which is public and only good for the emulator:
                    AWS_ACCESS_KEY_ID={DsqlEmulatorOptions.ExampleAccessKeyId}
                    AWS_SECRET_ACCESS_KEY={DsqlEmulatorOptions.ExampleSecretAccessKey}
                  Set these two variables for Dsql.Connector (or any AWS SDK signer), or print a token for psql with
                  "dsql-emulator token". Keys of your own: --access-key <id> with --secret-key-file <path>, or with the
                  secret in {SecretKeyVariable} (session token: --session-token-file or {SessionTokenVariable}),
                  so that the secret does not show in ps.

                Once ready it prints, per endpoint, "endpoint", "connector" (a Dsql.Connector connection string) and
                "psql" (a libpq connection string) lines, a "fault" line per --fault, then "ca <path>" and last
                "ready <address>:<port>".
                """);
        }
    }
}

/// <summary>System.CommandLine's help, followed for the root command by the local credentials (the example key) and what the emulator prints.</summary>
internal sealed class HelpWithCredentialsAction(HelpAction help) : SynchronousCommandLineAction
{
    /// <inheritdoc />
    public override bool ClearsParseErrors => true;

    /// <inheritdoc />
    public override int Invoke(ParseResult parseResult)
    {
        int result = help.Invoke(parseResult);
        if (parseResult.CommandResult.Command is RootCommand) CommandLine.WriteCredentialsSection(parseResult.InvocationConfiguration.Output);
        return result;
    }
}

/// <summary>What the <c>token</c> command signs: endpoint name, Region, role, lifetime and key.</summary>
internal sealed record TokenRequest(string Host, string Region, string User, TimeSpan ExpiresIn, EmulatorAccessKey Key);

/// <summary>Command-line arguments are wrong; the message names each option and value at fault.</summary>
internal sealed class CommandLineException(IReadOnlyList<string> problems) : Exception(string.Join(Environment.NewLine, problems))
{
    /// <summary>Each problem on its own.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}
