// One concern, kept in one file: the connection-string keyword table (names, synonyms, defaults, validation) and
// the parser that reads and writes it. Its size is the number of keywords; splitting the table from its parser
// would make each keyword live in two places.
using System.Collections.ObjectModel;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using Amazon.Runtime.CredentialManagement;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Parses, validates and formats the settings of a connection to an Aurora DSQL cluster.
/// </summary>
/// <remarks>
/// <para>
/// Two forms are accepted. Npgsql-style <c>Key=Value;...</c> strings, where keywords are case-insensitive and
/// spaces and underscores in them are ignored (<c>SSL Mode</c>, <c>SslMode</c> and <c>sslmode</c> are one
/// keyword), and values may be quoted with <c>'</c> or <c>"</c> (a doubled quote inside stands for itself) to
/// contain <c>;</c>. And <c>postgres://</c> or <c>postgresql://</c> URIs such as
/// <c>postgres://admin@host:5432/postgres?region=us-east-1&amp;profile=dev</c>, whose query parameters are the
/// same keywords (percent-decoded) plus the libpq names <c>dbname</c>, <c>user</c>, <c>hostaddr</c>,
/// <c>sslmode</c>, <c>sslrootcert</c>, <c>application_name</c> and <c>connect_timeout</c>.
/// </para>
/// <para>
/// Keywords that are not DSQL settings but that Npgsql knows are checked by Npgsql and kept in
/// <see cref="NpgsqlOptions"/>. Settings that cannot work with DSQL or would weaken its security
/// (<c>Password</c>, <c>Passfile</c>, <c>Trust Server Certificate</c>, client certificates, <c>Enlist=true</c>,
/// <c>No Reset On Close=false</c>, several hosts) are refused with a <see cref="DsqlConfigurationException"/>.
/// </para>
/// <para>
/// Instances are not thread-safe: configure one, call <see cref="Validate"/>, then hand it over.
/// </para>
/// </remarks>
public sealed class DsqlConnectionStringBuilder
{
    /// <summary>The port DSQL listens on: 5432.</summary>
    public const int DefaultPort = 5432;

    /// <summary>The only database a DSQL cluster has: <c>postgres</c>.</summary>
    public const string DefaultDatabase = "postgres";

    /// <summary>The role every DSQL cluster starts with: <c>admin</c>.</summary>
    public const string DefaultUsername = "admin";

    /// <summary>The default token lifetime, 900 seconds: the AWS SDKs' default for DSQL tokens.</summary>
    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromSeconds(900);

    /// <summary>The longest token lifetime DSQL accepts: 604,800 seconds (7 days).</summary>
    public static readonly TimeSpan MaximumTokenLifetime = TimeSpan.FromSeconds(604_800);

    /// <summary>
    /// The longest <see cref="ConnectionLifetime"/> allowed: 54 minutes. DSQL closes a connection after
    /// 60 minutes, a transaction may run for 5 minutes, and the pool checks the lifetime only when a connection
    /// is rented or returned, so lifetime + 5 minutes must stay within 59 minutes (one minute of margin).
    /// </summary>
    public static readonly TimeSpan MaximumConnectionLifetime = TimeSpan.FromMinutes(54);

    /// <summary>The default idle lifetime of a pooled connection, 300 seconds (Npgsql's default).</summary>
    public static readonly TimeSpan DefaultConnectionIdleLifetime = TimeSpan.FromSeconds(300);

    /// <summary>The largest pool that makes sense: 10,000, DSQL's limit of open connections per cluster.</summary>
    public const int MaximumPoolSizeLimit = 10_000;

    /// <summary>The longest connect timeout Npgsql accepts, 1024 seconds.</summary>
    public const int MaximumTimeout = 1024;

    /// <summary>The most connect retries allowed, 100.</summary>
    public const int MaximumConnectRetries = 100;

    private const RegexOptions Rx = RegexOptions.CultureInvariant | RegexOptions.IgnoreCase;

    private static readonly Regex ClusterIdPattern = new("^[a-z0-9]{26}$", Rx);
    private static readonly Regex EndpointRegionPattern = new(@"\.dsql[^.]*\.([^.]+)\.on\.aws$", Rx);
    private static readonly Regex HostNamePattern =
        new(@"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", Rx);
    private static readonly Regex RegionPattern = new("^[a-z]{2}(-[a-z0-9]+)+$", Rx);

    private readonly Dictionary<string, string> _npgsqlOptions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates a builder holding the defaults and no host; set <see cref="Host"/> before use.</summary>
    public DsqlConnectionStringBuilder()
    {
    }

    /// <summary>
    /// Parses a <c>Key=Value;...</c> connection string or a <c>postgres://</c> / <c>postgresql://</c> URI,
    /// then calls <see cref="Validate"/>.
    /// </summary>
    /// <param name="connectionString">The connection string or URI.</param>
    /// <exception cref="ArgumentNullException"><paramref name="connectionString"/> is null.</exception>
    /// <exception cref="DsqlConfigurationException">A setting is unknown, refused, malformed or out of range.</exception>
    public DsqlConnectionStringBuilder(string connectionString)
        : this(connectionString, validate: true)
    {
    }

    /// <summary>Parses; validates only when asked (settings applied afterwards may complete the string).</summary>
    internal DsqlConnectionStringBuilder(string connectionString, bool validate)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var state = new ParseState();
        var text = connectionString.Trim();
        if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
            text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            ParseUri(text, state);
        }
        else
        {
            ParseKeyValues(text, state);
        }

        if (validate) Validate();
    }

    /// <summary>Parses and validates a connection string or URI; the same as the constructor.</summary>
    /// <param name="connectionString">The connection string or URI.</param>
    /// <returns>The validated builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="connectionString"/> is null.</exception>
    /// <exception cref="DsqlConfigurationException">A setting is unknown, refused, malformed or out of range.</exception>
    public static DsqlConnectionStringBuilder Parse(string connectionString) => new(connectionString);

    /// <summary>
    /// The cluster to connect to: its endpoint (<c>&lt;cluster id&gt;.dsql.&lt;region&gt;.on.aws</c>, PrivateLink
    /// names such as <c>&lt;cluster id&gt;.dsql-fnh4.&lt;region&gt;.on.aws</c> included) or its 26-character
    /// cluster id, which together with the Region gives the endpoint. No default: DSQL has no local host.
    /// Keywords <c>Host</c>, <c>Server</c>. Only one endpoint: multi-endpoint support is a separate feature.
    /// </summary>
    public string? Host { get; set; }

    /// <summary>The port to connect to. Default 5432, the port DSQL listens on; from 1 to 65535.</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>
    /// The database. Default and only value allowed: <c>postgres</c>, the one database every DSQL cluster has.
    /// Keywords <c>Database</c>, <c>DB</c>, <c>dbname</c>.
    /// </summary>
    public string Database { get; set; } = DefaultDatabase;

    /// <summary>
    /// The database role. Default <c>admin</c>, the role every cluster starts with (its tokens need
    /// <c>dsql:DbConnectAdmin</c>; other roles need <c>dsql:DbConnect</c>). Keywords <c>Username</c>,
    /// <c>User Name</c>, <c>User Id</c>, <c>UserId</c>, <c>UID</c>, <c>User</c>.
    /// </summary>
    public string Username { get; set; } = DefaultUsername;

    /// <summary>
    /// The cluster id (26 characters <c>[a-z0-9]</c>, lower-cased) when <see cref="Host"/> is a cluster id or an
    /// endpoint whose first label is one; otherwise null.
    /// </summary>
    public string? ClusterId
    {
        get
        {
            var host = Host?.Trim();
            if (string.IsNullOrEmpty(host))
            {
                return null;
            }

            if (ClusterIdPattern.IsMatch(host))
            {
                return host.ToLowerInvariant();
            }

            var dot = host.IndexOf('.', StringComparison.Ordinal);
            return dot > 0 && EndpointRegionPattern.IsMatch(host) && ClusterIdPattern.IsMatch(host[..dot])
                ? host[..dot].ToLowerInvariant()
                : null;
        }
    }

    /// <summary>
    /// The full host name authentication tokens are signed for and TLS verifies (lower-cased): <see cref="Host"/>
    /// when it is an endpoint, <c>&lt;cluster id&gt;.dsql.&lt;region&gt;.on.aws</c> when it is a cluster id.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">Host is missing or invalid, or the Region cannot be determined.</exception>
    public string Endpoint
    {
        get
        {
            var host = ValidateHost();
            return ClusterIdPattern.IsMatch(host) ? $"{host}.dsql.{ResolveRegion()}.on.aws" : host;
        }
    }

    /// <summary>
    /// The AWS Region tokens are signed for. Null by default: the Region is then read from the endpoint, or
    /// from the AWS Region chain when <see cref="Host"/> is a cluster id (see <see cref="ResolveRegion()"/>).
    /// Set it when Host is a cluster id and the environment names no Region; it must agree with the endpoint's.
    /// </summary>
    public string? Region { get; set; }

    /// <summary>
    /// The AWS shared-config profile whose credentials sign tokens (and whose region is the last Region fallback).
    /// Null by default: the default credential chain (environment, <c>AWS_PROFILE</c> or <c>default</c>, container
    /// and instance roles), as every AWS SDK does. Keywords <c>Profile</c>, <c>AWS Profile</c>.
    /// </summary>
    public string? Profile { get; set; }

    /// <summary>
    /// How long each authentication token is valid. Default 900 seconds, the AWS SDKs' default; from 1 second to
    /// 604,800 seconds (7 days, DSQL's maximum), in whole seconds. A token is checked only when a connection is
    /// opened, so this bounds how long a generated token may be reused for new connections, not how long a
    /// connection lives. Keyword <c>Token Lifetime</c>: seconds, or <c>hh:mm:ss</c>.
    /// </summary>
    public TimeSpan TokenLifetime { get; set; } = DefaultTokenLifetime;

    /// <summary>
    /// The network address to connect to instead of the endpoint's name, like libpq's <c>hostaddr</c>: an SSH
    /// tunnel, a port forward or a local emulator. Tokens are still signed for, and the server certificate still
    /// verified against, <see cref="Endpoint"/>. Null by default: connect to the endpoint itself.
    /// Keywords <c>Host Address</c>, <c>hostaddr</c>.
    /// </summary>
    public string? HostAddress { get; set; }

    /// <summary>
    /// Path of a PEM file holding the root certificate(s) to trust for the server certificate. Null by default:
    /// the system trust store, which holds Amazon Root CA 1, the root of DSQL's certificates. The file must
    /// exist. Keywords <c>Root Certificate</c>, <c>sslrootcert</c>.
    /// </summary>
    public string? RootCertificate { get; set; }

    /// <summary>
    /// The TLS mode. Default and only value accepted on its own: <see cref="Npgsql.SslMode.VerifyFull"/>, because
    /// a token is a bearer credential and must only be sent to a verified DSQL server. Weaker modes are accepted
    /// only with <see cref="AllowInsecureTls"/>. Keywords <c>SSL Mode</c>, <c>sslmode</c>; values as in Npgsql or
    /// libpq (<c>verify-full</c>).
    /// </summary>
    public SslMode SslMode { get; set; } = SslMode.VerifyFull;

    /// <summary>
    /// Allows an <see cref="SslMode"/> weaker than VerifyFull, for test setups such as a local emulator with a
    /// self-signed certificate. Default false: verify-full TLS is not weakened by accident. Keyword
    /// <c>Allow Insecure Tls</c>.
    /// </summary>
    public bool AllowInsecureTls { get; set; }

    /// <summary>
    /// The most physical connections the pool opens. Default 100, Npgsql's default; from 1 to 10,000 (DSQL's limit
    /// of open connections per cluster). Keywords <c>Maximum Pool Size</c>, <c>Max Pool Size</c>.
    /// </summary>
    public int MaxPoolSize { get; set; } = 100;

    /// <summary>
    /// The physical connections the pool keeps open even when idle. Default 0: idle connections cost a DSQL
    /// connection slot and are closed by the server after 60 minutes anyway. From 0 to <see cref="MaxPoolSize"/>.
    /// Keywords <c>Minimum Pool Size</c>, <c>Min Pool Size</c>.
    /// </summary>
    public int MinPoolSize { get; set; }

    /// <summary>
    /// How long a pooled connection may stay idle before it is closed. Default 300 seconds (Npgsql's default),
    /// well inside DSQL's 60-minute connection limit; whole seconds, at least 1. Keyword
    /// <c>Connection Idle Lifetime</c>: seconds, or <c>hh:mm:ss</c>.
    /// </summary>
    public TimeSpan ConnectionIdleLifetime { get; set; } = DefaultConnectionIdleLifetime;

    /// <summary>
    /// How long a physical connection may live before the pool closes it. Null by default: the connector's pool
    /// policy chooses. When set: whole seconds, more than 0 and at most 54 minutes, because DSQL closes connections
    /// after 60 minutes, a transaction may take 5 minutes, and the pool checks the lifetime only when a connection is
    /// rented or returned. Keywords <c>Connection Lifetime</c>, <c>Load Balance Timeout</c>: seconds or <c>hh:mm:ss</c>.
    /// </summary>
    public TimeSpan? ConnectionLifetime { get; set; }

    /// <summary>
    /// Whether connections are pooled. Default true: opening a DSQL connection costs a TLS handshake, a token and a
    /// slot in the cluster's connection rate (100 per second).
    /// </summary>
    public bool Pooling { get; set; } = true;

    /// <summary>
    /// Seconds to wait for a connection to open (each attempt). Default 15, Npgsql's default; from 1 to 1024
    /// (Npgsql's maximum). Keywords <c>Timeout</c>, <c>Connect Timeout</c>, <c>connect_timeout</c>.
    /// </summary>
    public int Timeout { get; set; } = 15;

    /// <summary>
    /// Seconds to wait for a command to complete. Default 30, Npgsql's default; 0 waits forever (DSQL still ends a
    /// transaction after 300 seconds). Keyword <c>Command Timeout</c>.
    /// </summary>
    public int CommandTimeout { get; set; } = 30;

    /// <summary>
    /// The application name reported to the server. Null by default: the connector sets its own.
    /// Keywords <c>Application Name</c>, <c>application_name</c>.
    /// </summary>
    public string? ApplicationName { get; set; }

    /// <summary>
    /// Steady rate of new physical connections this client opens per second. Default 100: DSQL's published
    /// connection rate per cluster, so one client alone never triggers "rate exceeded" (53400). More than 0.
    /// Keyword <c>Connection Rate Per Second</c>.
    /// </summary>
    public double ConnectionRatePerSecond { get; set; } = 100;

    /// <summary>
    /// How many connections may be opened at once above the steady rate. Default 1000: DSQL's published burst.
    /// At least 1. Keyword <c>Connection Burst</c>.
    /// </summary>
    public int ConnectionBurst { get; set; } = 1000;

    /// <summary>
    /// How many times a failed connect is retried when the failure is transient (rate exceeded, too many
    /// connections, network errors). Default 5, which with exponential backoff rides out a short burst of refusals;
    /// from 0 to 100. Keyword <c>Connect Retries</c>.
    /// </summary>
    public int ConnectRetries { get; set; } = 5;

    /// <summary>
    /// Npgsql settings that are not DSQL settings, keyed by Npgsql's canonical keyword (for example
    /// <c>Include Error Detail</c>), with values in Npgsql's canonical form, to be passed through to Npgsql.
    /// Keys are case-insensitive.
    /// </summary>
    public IReadOnlyDictionary<string, string> NpgsqlOptions => new ReadOnlyDictionary<string, string>(_npgsqlOptions);

    /// <summary>
    /// Applies one setting as if it appeared in a connection string: DSQL keywords set the matching property,
    /// other keywords Npgsql knows go to <see cref="NpgsqlOptions"/>. A null or empty value restores the default
    /// (or removes the Npgsql option). Call <see cref="Validate"/> when done.
    /// </summary>
    /// <param name="keyword">The keyword (case-insensitive; spaces and underscores ignored).</param>
    /// <param name="value">The value as it would appear in a connection string.</param>
    /// <exception cref="DsqlConfigurationException">The keyword is unknown or refused, or the value is malformed.</exception>
    public void Set(string keyword, string? value)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        Apply(keyword, value, state: null);
    }

    /// <summary>
    /// Determines the AWS Region tokens are signed for: <see cref="Region"/> when set (it must agree with the
    /// Region in the endpoint); else the Region in the endpoint name (<c>.dsql[-suffix].&lt;region&gt;.on.aws</c>);
    /// else the <c>AWS_REGION</c> then <c>AWS_DEFAULT_REGION</c> environment variables; else the region of the AWS
    /// profile (<see cref="Profile"/>, else <c>AWS_PROFILE</c>, else <c>default</c>).
    /// </summary>
    /// <returns>The Region name, lower-cased, such as <c>us-east-1</c>.</returns>
    /// <exception cref="DsqlConfigurationException">
    /// (Setting <c>Region</c>) No source names a Region, a Region is malformed, or Region contradicts the endpoint.
    /// </exception>
    public string ResolveRegion() => ResolveRegion(ReadProfileRegion);

    /// <summary>
    /// Checks every setting; throws a <see cref="DsqlConfigurationException"/> naming the first invalid setting and
    /// its value. The parsing constructor calls it; call it after changing properties.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">A setting is missing, malformed, out of range or not allowed.</exception>
    public void Validate()
    {
        var problems = new List<DsqlConfigurationException>();
        CollectProblems(problems);
        if (problems.Count > 0) throw problems[0];
    }

    /// <summary>The name of the setting (as in <see cref="DsqlConfigurationException.Setting"/>) a keyword sets, or null for keywords unknown here.</summary>
    internal static string? SettingOfKeyword(string keyword)
        => Keyword.Lookup.TryGetValue(Keyword.Normalize(keyword), out var found) ? found.Property : null;

    /// <summary>Every problem of the settings (not only the first), for reports that list them all.</summary>
    internal void CollectProblems(List<DsqlConfigurationException> problems)
    {
        try
        {
            ValidateHost();
            ResolveRegion();
        }
        catch (DsqlConfigurationException ex)
        {
            problems.Add(ex);
        }

        if (Port is < 1 or > 65535)
        {
            problems.Add(Invalid(Keyword.Port, Format(Port)));
        }

        if (!string.Equals(Database, DefaultDatabase, StringComparison.Ordinal))
        {
            problems.Add(new DsqlConfigurationException(nameof(Database),
                $"Database '{Database}' does not exist in DSQL: a cluster has exactly one database, '{DefaultDatabase}', " +
                "which cannot be created, renamed or dropped. Remove Database or set it to postgres."));
        }

        if (string.IsNullOrWhiteSpace(Username))
        {
            problems.Add(new DsqlConfigurationException(nameof(Username),
                $"Username '{Username}' is empty: set it to a DSQL role such as admin, or remove it to use admin."));
        }

        if (Profile is not null && (Profile.Length == 0 || Profile.Any(char.IsWhiteSpace)))
        {
            problems.Add(new DsqlConfigurationException(nameof(Profile),
                $"Profile '{Profile}' is not an AWS profile name (it is empty or contains spaces). " +
                "Remove Profile to use the default credential chain."));
        }

        if (TokenLifetime < TimeSpan.FromSeconds(1) || TokenLifetime > MaximumTokenLifetime || !IsWholeSeconds(TokenLifetime))
        {
            problems.Add(Invalid(Keyword.TokenLifetime, Format(TokenLifetime)));
        }

        if (HostAddress is not null && !IsHostOrAddress(HostAddress))
        {
            problems.Add(Invalid(Keyword.HostAddress, HostAddress));
        }

        if (RootCertificate is not null && !File.Exists(RootCertificate))
        {
            problems.Add(new DsqlConfigurationException(nameof(RootCertificate),
                $"Root Certificate '{RootCertificate}' does not exist: set it to the path of a PEM file holding the " +
                "root certificate to trust, or remove it to use the system trust store (which holds Amazon Root CA 1)."));
        }

        if (!Enum.IsDefined(SslMode))
        {
            problems.Add(Invalid(Keyword.SslMode, Format(SslMode)));
        }

        if (SslMode != SslMode.VerifyFull && !AllowInsecureTls)
        {
            problems.Add(new DsqlConfigurationException(nameof(SslMode),
                $"SSL Mode '{SslMode}' is weaker than VerifyFull, which DSQL connections use so that authentication " +
                "tokens are only sent to a verified server. Remove SSL Mode (VerifyFull is the default), or for a test " +
                "setup you trust set Allow Insecure Tls=true as well."));
        }

        if (MaxPoolSize is < 1 or > MaximumPoolSizeLimit)
        {
            problems.Add(Invalid(Keyword.MaxPoolSize, Format(MaxPoolSize)));
        }

        if (MinPoolSize < 0)
        {
            problems.Add(Invalid(Keyword.MinPoolSize, Format(MinPoolSize)));
        }

        if (MinPoolSize > MaxPoolSize)
        {
            problems.Add(new DsqlConfigurationException(nameof(MinPoolSize),
                $"Minimum Pool Size '{Format(MinPoolSize)}' is larger than Maximum Pool Size '{Format(MaxPoolSize)}'."));
        }

        if (ConnectionIdleLifetime < TimeSpan.FromSeconds(1) || !IsWholeSeconds(ConnectionIdleLifetime) ||
            ConnectionIdleLifetime.TotalSeconds > int.MaxValue)
        {
            problems.Add(Invalid(Keyword.ConnectionIdleLifetime, Format(ConnectionIdleLifetime)));
        }

        if (ConnectionLifetime is { } lifetime)
        {
            if (lifetime < TimeSpan.FromSeconds(1) || !IsWholeSeconds(lifetime))
            {
                problems.Add(new DsqlConfigurationException(nameof(ConnectionLifetime),
                    $"Connection Lifetime '{Format(lifetime)}' is not a lifetime in whole seconds greater than 0. " +
                    "DSQL needs connections to be recycled before its 60-minute limit; remove Connection Lifetime to " +
                    "use the connector's default."));
            }

            if (lifetime > MaximumConnectionLifetime)
            {
                problems.Add(new DsqlConfigurationException(nameof(ConnectionLifetime),
                    $"Connection Lifetime '{Format(lifetime)}' is too long: DSQL closes every connection after 60 minutes " +
                    "and a transaction may take up to 5 minutes, while the pool checks the lifetime only when a " +
                    "connection is rented or returned. Connection Lifetime + 5 minutes must stay under 59 minutes: " +
                    $"use at most {Format(MaximumConnectionLifetime)} seconds (54 minutes), or remove it to use the connector's default."));
            }
        }

        if (Timeout is < 1 or > MaximumTimeout)
        {
            problems.Add(Invalid(Keyword.Timeout, Format(Timeout)));
        }

        if (CommandTimeout < 0)
        {
            problems.Add(Invalid(Keyword.CommandTimeout, Format(CommandTimeout)));
        }

        if (!(ConnectionRatePerSecond > 0) || double.IsInfinity(ConnectionRatePerSecond))
        {
            problems.Add(Invalid(Keyword.ConnectionRatePerSecond, Format(ConnectionRatePerSecond)));
        }

        if (ConnectionBurst < 1)
        {
            problems.Add(Invalid(Keyword.ConnectionBurst, Format(ConnectionBurst)));
        }

        if (ConnectRetries is < 0 or > MaximumConnectRetries)
        {
            problems.Add(Invalid(Keyword.ConnectRetries, Format(ConnectRetries)));
        }

        if (_npgsqlOptions.TryGetValue("SSL Negotiation", out var negotiation) &&
            string.Equals(negotiation, "Direct", StringComparison.OrdinalIgnoreCase) &&
            SslMode is SslMode.Disable or SslMode.Allow or SslMode.Prefer)
        {
            problems.Add(new DsqlConfigurationException("SslNegotiation",
                $"SSL Negotiation '{negotiation}' needs SSL Mode Require or stronger, but SSL Mode is '{SslMode}'."));
        }
    }

    /// <summary>
    /// The canonical <c>Key=Value;...</c> form of the settings that differ from their defaults (Host always first),
    /// followed by <see cref="NpgsqlOptions"/>. It parses back to equal settings. It never holds a secret: passwords
    /// and client-certificate passwords are refused on input.
    /// </summary>
    /// <returns>The connection string.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder();
        void Add(Keyword keyword, string value)
        {
            if (sb.Length > 0)
            {
                sb.Append(';');
            }

            sb.Append(keyword.Name).Append('=').Append(Quote(value));
        }

        if (Host is not null)
        {
            Add(Keyword.Host, Host);
        }

        if (Port != DefaultPort)
        {
            Add(Keyword.Port, Format(Port));
        }

        if (Database != DefaultDatabase)
        {
            Add(Keyword.Database, Database);
        }

        if (Username != DefaultUsername)
        {
            Add(Keyword.Username, Username);
        }

        if (Region is not null)
        {
            Add(Keyword.Region, Region);
        }

        if (Profile is not null)
        {
            Add(Keyword.Profile, Profile);
        }

        if (TokenLifetime != DefaultTokenLifetime)
        {
            Add(Keyword.TokenLifetime, Format(TokenLifetime));
        }

        if (HostAddress is not null)
        {
            Add(Keyword.HostAddress, HostAddress);
        }

        if (RootCertificate is not null)
        {
            Add(Keyword.RootCertificate, RootCertificate);
        }

        if (SslMode != SslMode.VerifyFull)
        {
            Add(Keyword.SslMode, Format(SslMode));
        }

        if (AllowInsecureTls)
        {
            Add(Keyword.AllowInsecureTls, Format(AllowInsecureTls));
        }

        if (MaxPoolSize != 100)
        {
            Add(Keyword.MaxPoolSize, Format(MaxPoolSize));
        }

        if (MinPoolSize != 0)
        {
            Add(Keyword.MinPoolSize, Format(MinPoolSize));
        }

        if (ConnectionIdleLifetime != DefaultConnectionIdleLifetime)
        {
            Add(Keyword.ConnectionIdleLifetime, Format(ConnectionIdleLifetime));
        }

        if (ConnectionLifetime is { } lifetime)
        {
            Add(Keyword.ConnectionLifetime, Format(lifetime));
        }

        if (!Pooling)
        {
            Add(Keyword.Pooling, Format(Pooling));
        }

        if (Timeout != 15)
        {
            Add(Keyword.Timeout, Format(Timeout));
        }

        if (CommandTimeout != 30)
        {
            Add(Keyword.CommandTimeout, Format(CommandTimeout));
        }

        if (ApplicationName is not null)
        {
            Add(Keyword.ApplicationName, ApplicationName);
        }

        if (ConnectionRatePerSecond != 100)
        {
            Add(Keyword.ConnectionRatePerSecond, Format(ConnectionRatePerSecond));
        }

        if (ConnectionBurst != 1000)
        {
            Add(Keyword.ConnectionBurst, Format(ConnectionBurst));
        }

        if (ConnectRetries != 5)
        {
            Add(Keyword.ConnectRetries, Format(ConnectRetries));
        }

        foreach (var (key, value) in _npgsqlOptions.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
        {
            if (sb.Length > 0)
            {
                sb.Append(';');
            }

            sb.Append(key).Append('=').Append(Quote(value));
        }

        return sb.ToString();
    }

    internal string ResolveRegion(Func<string, string?> profileRegionReader)
    {
        var host = Host?.Trim();
        var hostRegion = string.IsNullOrEmpty(host) ? null : RegionOfEndpoint(host);

        if (Region is not null)
        {
            var region = Region.Trim();
            if (!RegionPattern.IsMatch(region))
            {
                throw new DsqlConfigurationException(nameof(Region),
                    $"Region '{Region}' is not an AWS Region name such as us-east-1.");
            }

            region = region.ToLowerInvariant();
            if (hostRegion is not null && hostRegion != region)
            {
                throw new DsqlConfigurationException(nameof(Region),
                    $"Region '{Region}' contradicts the Region '{hostRegion}' in Host '{host}': tokens must be signed for " +
                    "the endpoint's own Region. Remove Region or correct it.");
            }

            return region;
        }

        if (hostRegion is not null)
        {
            return hostRegion;
        }

        foreach (var variable in new[] { "AWS_REGION", "AWS_DEFAULT_REGION" })
        {
            var value = Environment.GetEnvironmentVariable(variable)?.Trim();
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }

            if (!RegionPattern.IsMatch(value))
            {
                throw new DsqlConfigurationException(nameof(Region),
                    $"The {variable} environment variable '{value}' is not an AWS Region name such as us-east-1. " +
                    "Correct it or set Region in the connection string.");
            }

            return value.ToLowerInvariant();
        }

        var profileName = !string.IsNullOrWhiteSpace(Profile) ? Profile.Trim()
            : Environment.GetEnvironmentVariable("AWS_PROFILE") is { Length: > 0 } envProfile ? envProfile.Trim()
            : "default";
        string? profileRegion;
        string profileFailure = "";
        try
        {
            profileRegion = profileRegionReader(profileName)?.Trim();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            profileRegion = null;
            profileFailure = $" (reading the AWS config failed: {e.Message})";
        }

        if (!string.IsNullOrEmpty(profileRegion))
        {
            if (!RegionPattern.IsMatch(profileRegion))
            {
                throw new DsqlConfigurationException(nameof(Region),
                    $"The region '{profileRegion}' of AWS profile '{profileName}' is not an AWS Region name such as us-east-1. " +
                    "Correct it or set Region in the connection string.");
            }

            return profileRegion.ToLowerInvariant();
        }

        throw new DsqlConfigurationException(nameof(Region),
            $"Region could not be determined for Host '{host}': Region is not set in the connection string " +
            "(e.g. Region=us-east-1), Host is not an endpoint that names its Region (<cluster id>.dsql.<region>.on.aws), " +
            $"the AWS_REGION and AWS_DEFAULT_REGION environment variables are not set, and the AWS profile '{profileName}' " +
            $"has no region{profileFailure}. Set Region, use the full endpoint as Host, or configure one of these.");
    }

    private static string? ReadProfileRegion(string profileName)
    {
        var chain = new CredentialProfileStoreChain();
        return chain.TryGetProfile(profileName, out var profile) ? profile.Region?.SystemName : null;
    }

    private static string? RegionOfEndpoint(string host)
    {
        var match = EndpointRegionPattern.Match(host);
        return match.Success ? match.Groups[1].Value.ToLowerInvariant() : null;
    }

    /// <summary>Checks <see cref="Host"/> and returns it trimmed and lower-cased.</summary>
    private string ValidateHost()
    {
        var host = Host?.Trim();
        if (string.IsNullOrEmpty(host))
        {
            throw new DsqlConfigurationException(nameof(Host),
                $"Host '{Host}' is empty: set it to the cluster endpoint (<cluster id>.dsql.<region>.on.aws) or to the " +
                "26-character cluster id together with Region.");
        }

        if (host.Contains(',', StringComparison.Ordinal))
        {
            throw MultiHost(host);
        }

        if (ClusterIdPattern.IsMatch(host))
        {
            return host.ToLowerInvariant();
        }

        if (!HostNamePattern.IsMatch(host) || !EndpointRegionPattern.IsMatch(host))
        {
            throw new DsqlConfigurationException(nameof(Host),
                $"Host '{host}' is neither a DSQL endpoint (<cluster id>.dsql.<region>.on.aws) nor a 26-character " +
                "cluster id. To connect through a tunnel, a port forward or a local emulator, keep Host as the endpoint " +
                "and set Host Address to the address to connect to.");
        }

        return host.ToLowerInvariant();
    }

    private static DsqlConfigurationException MultiHost(string host) =>
        new(nameof(Host),
            $"Host '{host}' names several hosts: a connection string holds one DSQL endpoint. " +
            "Multi-endpoint support (for multi-Region clusters) is configured separately.");

    private static bool IsHostOrAddress(string value)
    {
        var text = value.Trim();
        if (text.Length != value.Length || text.Length == 0)
        {
            return false;
        }

        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1];
        }

        return Uri.CheckHostName(text) != UriHostNameType.Unknown;
    }

    private static DsqlConfigurationException Invalid(Keyword keyword, string value) =>
        new(keyword.Property, $"{keyword.Name} '{value}' is not {keyword.Expectation}.");

    // ---------------------------------------------------------------- parsing

    private sealed class ParseState
    {
        public string? Host;
    }

    private void ParseKeyValues(string text, ParseState state)
    {
        var i = 0;
        var n = text.Length;
        while (i < n)
        {
            while (i < n && (char.IsWhiteSpace(text[i]) || text[i] == ';'))
            {
                i++;
            }

            if (i >= n)
            {
                break;
            }

            var keyStart = i;
            while (i < n && text[i] != '=' && text[i] != ';')
            {
                i++;
            }

            var key = text[keyStart..i].Trim();
            if (i >= n || text[i] == ';')
            {
                throw new DsqlConfigurationException(SettingOf(key),
                    $"'{key}' in the connection string has no value: write settings as Keyword=Value;Keyword=Value.");
            }

            if (key.Length == 0)
            {
                throw new DsqlConfigurationException("ConnectionString",
                    "The connection string has a '=' with no keyword before it: write settings as Keyword=Value;Keyword=Value.");
            }

            if (Keyword.Lookup.TryGetValue(Keyword.Normalize(key), out var refused) && refused.Refusal is not null)
            {
                // Refused before its value is even read, so that no error can quote a password.
                throw new DsqlConfigurationException(refused.Property, refused.Refusal);
            }

            i++; // '='
            while (i < n && text[i] is ' ' or '\t')
            {
                i++;
            }

            string value;
            if (i < n && text[i] is '\'' or '"')
            {
                var quote = text[i++];
                var sb = new StringBuilder();
                while (true)
                {
                    if (i >= n)
                    {
                        throw new DsqlConfigurationException(SettingOf(key),
                            $"The value of {key} opens a quote ({quote}) that is never closed.");
                    }

                    if (text[i] == quote)
                    {
                        if (i + 1 < n && text[i + 1] == quote)
                        {
                            sb.Append(quote);
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    sb.Append(text[i++]);
                }

                value = sb.ToString();
                while (i < n && char.IsWhiteSpace(text[i]))
                {
                    i++;
                }

                if (i < n && text[i] != ';')
                {
                    throw new DsqlConfigurationException(SettingOf(key),
                        $"The value of {key} has text after its closing quote ({quote}); separate settings with ';'.");
                }
            }
            else
            {
                var valueStart = i;
                while (i < n && text[i] != ';')
                {
                    i++;
                }

                value = text[valueStart..i].Trim();
            }

            Apply(key, value, state);
        }
    }

    private void ParseUri(string text, ParseState state)
    {
        var rest = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var hash = rest.IndexOf('#', StringComparison.Ordinal);
        if (hash >= 0)
        {
            rest = rest[..hash];
        }

        string? query = null;
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        if (question >= 0)
        {
            query = rest[(question + 1)..];
            rest = rest[..question];
        }

        string? path = null;
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            path = rest[(slash + 1)..];
            rest = rest[..slash];
        }

        var hostPort = rest;
        var at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = rest[..at];
            hostPort = rest[(at + 1)..];
            if (userInfo.Contains(':', StringComparison.Ordinal))
            {
                throw PasswordRefused("The URI contains a password");
            }

            if (userInfo.Length > 0)
            {
                Apply("Username", Uri.UnescapeDataString(userInfo), state);
            }
        }

        if (hostPort.Length > 0)
        {
            var host = hostPort;
            string? port = null;
            if (hostPort.StartsWith('['))
            {
                var close = hostPort.IndexOf(']', StringComparison.Ordinal);
                if (close > 0 && close + 1 < hostPort.Length && hostPort[close + 1] == ':')
                {
                    host = hostPort[..(close + 1)];
                    port = hostPort[(close + 2)..];
                }
            }
            else if (!hostPort.Contains(',', StringComparison.Ordinal))
            {
                var colon = hostPort.LastIndexOf(':');
                if (colon >= 0)
                {
                    host = hostPort[..colon];
                    port = hostPort[(colon + 1)..];
                }
            }

            if (host.Length > 0)
            {
                Apply("Host", Uri.UnescapeDataString(host), state);
            }

            if (!string.IsNullOrEmpty(port))
            {
                Apply("Port", Uri.UnescapeDataString(port), state);
            }
        }

        if (!string.IsNullOrEmpty(path))
        {
            Apply("Database", Uri.UnescapeDataString(path), state);
        }

        if (query is null)
        {
            return;
        }

        foreach (var part in query.Split('&'))
        {
            if (part.Length == 0)
            {
                continue;
            }

            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                var bare = Uri.UnescapeDataString(part);
                throw new DsqlConfigurationException(SettingOf(bare),
                    $"URI query parameter '{bare}' has no value: write it as {bare}=value.");
            }

            var key = Uri.UnescapeDataString(part[..equals]).Trim();
            if (key.Length == 0)
            {
                throw new DsqlConfigurationException("ConnectionString",
                    "The URI has a query parameter with no name before its '='.");
            }

            Apply(key, Uri.UnescapeDataString(part[(equals + 1)..]), state);
        }
    }

    private void Apply(string rawKey, string? value, ParseState? state)
    {
        var key = rawKey.Trim();
        if (key.Length == 0)
        {
            throw new DsqlConfigurationException("ConnectionString", "A setting has an empty keyword.");
        }

        if (!Keyword.Lookup.TryGetValue(Keyword.Normalize(key), out var keyword))
        {
            ApplyNpgsqlOption(key, value);
            return;
        }

        ApplyOwn(keyword, value, state);
    }

    private void ApplyOwn(Keyword keyword, string? value, ParseState? state)
    {
        if (keyword.Refusal is not null)
        {
            throw new DsqlConfigurationException(keyword.Property, keyword.Refusal);
        }

        var text = value?.Trim();
        var reset = string.IsNullOrEmpty(text);
        switch (keyword.Id)
        {
            case KeywordId.Host:
                if (state is not null && !reset)
                {
                    if (state.Host is not null)
                    {
                        throw new DsqlConfigurationException(nameof(Host),
                            $"Host is given twice ('{state.Host}' and '{text}'): a connection string holds one DSQL endpoint. " +
                            "Multi-endpoint support (for multi-Region clusters) is configured separately.");
                    }

                    state.Host = text;
                }

                if (!reset && text!.Contains(',', StringComparison.Ordinal))
                {
                    throw MultiHost(text);
                }

                Host = reset ? null : text;
                break;
            case KeywordId.Port:
                Port = reset ? DefaultPort : ParseInt(keyword, text!);
                break;
            case KeywordId.Database:
                Database = string.IsNullOrEmpty(value) ? DefaultDatabase : value;
                break;
            case KeywordId.Username:
                Username = string.IsNullOrEmpty(value) ? DefaultUsername : value;
                break;
            case KeywordId.Region:
                Region = reset ? null : text;
                break;
            case KeywordId.Profile:
                Profile = reset ? null : text;
                break;
            case KeywordId.TokenLifetime:
                TokenLifetime = reset ? DefaultTokenLifetime : ParseSeconds(keyword, text!);
                break;
            case KeywordId.HostAddress:
                HostAddress = reset ? null : text;
                break;
            case KeywordId.RootCertificate:
                RootCertificate = reset ? null : text;
                break;
            case KeywordId.SslMode:
                SslMode = reset ? SslMode.VerifyFull : ParseSslMode(keyword, text!);
                break;
            case KeywordId.AllowInsecureTls:
                AllowInsecureTls = !reset && ParseBool(keyword, text!);
                break;
            case KeywordId.MaxPoolSize:
                MaxPoolSize = reset ? 100 : ParseInt(keyword, text!);
                break;
            case KeywordId.MinPoolSize:
                MinPoolSize = reset ? 0 : ParseInt(keyword, text!);
                break;
            case KeywordId.ConnectionIdleLifetime:
                ConnectionIdleLifetime = reset ? DefaultConnectionIdleLifetime : ParseSeconds(keyword, text!);
                break;
            case KeywordId.ConnectionLifetime:
                ConnectionLifetime = reset ? null : ParseSeconds(keyword, text!);
                break;
            case KeywordId.Pooling:
                Pooling = reset || ParseBool(keyword, text!);
                break;
            case KeywordId.Timeout:
                Timeout = reset ? 15 : ParseInt(keyword, text!);
                break;
            case KeywordId.CommandTimeout:
                CommandTimeout = reset ? 30 : ParseInt(keyword, text!);
                break;
            case KeywordId.ApplicationName:
                ApplicationName = string.IsNullOrEmpty(value) ? null : value;
                break;
            case KeywordId.ConnectionRatePerSecond:
                ConnectionRatePerSecond = reset ? 100 : ParseDouble(keyword, text!);
                break;
            case KeywordId.ConnectionBurst:
                ConnectionBurst = reset ? 1000 : ParseInt(keyword, text!);
                break;
            case KeywordId.ConnectRetries:
                ConnectRetries = reset ? 5 : ParseInt(keyword, text!);
                break;
            default:
                throw new InvalidOperationException($"Unhandled keyword {keyword.Name}.");
        }
    }

    private void ApplyNpgsqlOption(string key, string? value)
    {
        var probe = new NpgsqlConnectionStringBuilder();
        var compact = Keyword.Compact(key);
        var npgsqlKey = probe.ContainsKey(key) ? key : probe.ContainsKey(compact) ? compact : null;
        if (npgsqlKey is null)
        {
            throw new DsqlConfigurationException(key,
                $"Unknown connection string keyword '{key}': it is neither a DSQL setting nor an Npgsql setting. " +
                "Check its spelling (keywords are case-insensitive; spaces and underscores in them are ignored).");
        }

        var text = value?.Trim();
        string? canonicalValue = null;
        try
        {
            if (string.IsNullOrEmpty(text))
            {
                probe[npgsqlKey] = probe[npgsqlKey];
            }
            else
            {
                probe[npgsqlKey] = text;
            }
        }
        catch (ArgumentException e)
        {
            var name = Keyword.NpgsqlProperties.TryGetValue(npgsqlKey, out var p) ? p : npgsqlKey;
            throw new DsqlConfigurationException(name, $"{key} '{text}' is not a value Npgsql accepts for it: {e.InnerException?.Message ?? e.Message}", e);
        }

        var canonical = probe.Keys.Cast<string>().SingleOrDefault() ?? npgsqlKey;
        if (Keyword.Lookup.TryGetValue(Keyword.Normalize(canonical), out var own))
        {
            // A synonym Npgsql knows for a setting DSQL manages itself.
            ApplyOwn(own, value, state: null);
            return;
        }

        var property = Keyword.NpgsqlProperties.TryGetValue(canonical, out var propertyName) ? propertyName : canonical;
        if (!string.IsNullOrEmpty(text))
        {
            canonicalValue = Convert.ToString(probe[canonical], CultureInfo.InvariantCulture) ?? text;
        }

        if (canonicalValue is not null && property == "Enlist" && bool.TryParse(canonicalValue, out var enlist) && enlist)
        {
            throw new DsqlConfigurationException(property,
                $"Enlist '{text}' is not supported: enlisting in System.Transactions can lead to PREPARE TRANSACTION " +
                "(two-phase commit), which DSQL does not support. Remove Enlist or set Enlist=false.");
        }

        if (canonicalValue is not null && property == "NoResetOnClose" && bool.TryParse(canonicalValue, out var noReset) && !noReset)
        {
            throw new DsqlConfigurationException(property,
                $"No Reset On Close '{text}' is not supported: resetting a pooled connection sends DISCARD ALL, which " +
                "DSQL does not support. Remove No Reset On Close (the connector turns the reset off).");
        }

        if (canonicalValue is null)
        {
            _npgsqlOptions.Remove(canonical);
        }
        else
        {
            _npgsqlOptions[canonical] = canonicalValue;
        }
    }

    private string SettingOf(string key) =>
        Keyword.Lookup.TryGetValue(Keyword.Normalize(key), out var keyword) ? keyword.Property : key;

    private static DsqlConfigurationException PasswordRefused(string what) =>
        new(nameof(KeywordId.Password),
            $"{what}, but DSQL authenticates with IAM authentication tokens, which the connector generates for every new " +
            "connection from your AWS credentials. Remove the password (the role needs dsql:DbConnect, or " +
            "dsql:DbConnectAdmin for admin).");

    private static int ParseInt(Keyword keyword, string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw Invalid(keyword, text);

    private static double ParseDouble(Keyword keyword, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw Invalid(keyword, text);

    private static bool ParseBool(Keyword keyword, string text) => text.ToLowerInvariant() switch
    {
        "true" or "yes" or "on" or "1" => true,
        "false" or "no" or "off" or "0" => false,
        _ => throw Invalid(keyword, text),
    };

    private static TimeSpan ParseSeconds(Keyword keyword, string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds) &&
            seconds is > -100_000_000_000 and < 100_000_000_000)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        if (text.Contains(':', StringComparison.Ordinal) &&
            TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span))
        {
            return span;
        }

        throw Invalid(keyword, text);
    }

    private static SslMode ParseSslMode(Keyword keyword, string text)
    {
        var compact = text.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal)
            .Replace(" ", "", StringComparison.Ordinal);
        if (compact.Length > 0 && compact.All(char.IsAsciiLetter) &&
            Enum.TryParse<SslMode>(compact, ignoreCase: true, out var mode))
        {
            return mode;
        }

        throw Invalid(keyword, text);
    }

    // ---------------------------------------------------------------- formatting

    private static bool IsWholeSeconds(TimeSpan span) => span.Ticks % TimeSpan.TicksPerSecond == 0;

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Format(bool value) => value ? "true" : "false";

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Format(SslMode value) => value.ToString();

    private static string Format(TimeSpan value) => IsWholeSeconds(value)
        ? (value.Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture)
        : value.ToString("c", CultureInfo.InvariantCulture);

    private static string Quote(string value)
    {
        var needsQuotes = value.Length == 0 || value.Trim().Length != value.Length ||
                          value.IndexOfAny([';', '\'', '"']) >= 0;
        if (!needsQuotes)
        {
            return value;
        }

        return value.Contains('"', StringComparison.Ordinal) && !value.Contains('\'', StringComparison.Ordinal)
            ? "'" + value + "'"
            : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    // ---------------------------------------------------------------- keywords

    private enum KeywordId
    {
        Host,
        Port,
        Database,
        Username,
        Region,
        Profile,
        TokenLifetime,
        HostAddress,
        RootCertificate,
        SslMode,
        AllowInsecureTls,
        MaxPoolSize,
        MinPoolSize,
        ConnectionIdleLifetime,
        ConnectionLifetime,
        Pooling,
        Timeout,
        CommandTimeout,
        ApplicationName,
        ConnectionRatePerSecond,
        ConnectionBurst,
        ConnectRetries,
        Password,
        Passfile,
        TrustServerCertificate,
        SslCertificate,
        SslKey,
        SslPassword,
    }

    private sealed record Keyword(KeywordId Id, string Name, string Expectation, string[] Aliases, string? Refusal = null)
    {
        private const string ClientCertificates =
            "DSQL authenticates with IAM authentication tokens, not client certificates; remove it.";

        public static readonly Keyword Host = new(KeywordId.Host, "Host", "", ["Server"]);
        public static readonly Keyword Port = new(KeywordId.Port, "Port", "a port number (1-65535)", []);
        public static readonly Keyword Database = new(KeywordId.Database, "Database", "", ["DB", "dbname"]);
        public static readonly Keyword Username =
            new(KeywordId.Username, "Username", "", ["User Name", "User Id", "UID", "User"]);
        public static readonly Keyword Region = new(KeywordId.Region, "Region", "", ["AWS Region"]);
        public static readonly Keyword Profile = new(KeywordId.Profile, "Profile", "", ["AWS Profile"]);
        public static readonly Keyword TokenLifetime = new(KeywordId.TokenLifetime, "Token Lifetime",
            "a token lifetime in whole seconds from 1 to 604800 (7 days, DSQL's maximum), or hh:mm:ss", []);
        public static readonly Keyword HostAddress = new(KeywordId.HostAddress, "Host Address",
            "a host name or IP address to connect to (the endpoint stays in Host)", ["hostaddr"]);
        public static readonly Keyword RootCertificate =
            new(KeywordId.RootCertificate, "Root Certificate", "", ["sslrootcert"]);
        public static readonly Keyword SslMode = new(KeywordId.SslMode, "SSL Mode",
            "an SSL mode: VerifyFull (verify-full), or with Allow Insecure Tls=true also VerifyCA, Require, Prefer, " +
            "Allow or Disable", []);
        public static readonly Keyword AllowInsecureTls =
            new(KeywordId.AllowInsecureTls, "Allow Insecure Tls", "true or false", []);
        public static readonly Keyword MaxPoolSize = new(KeywordId.MaxPoolSize, "Maximum Pool Size",
            "a pool size from 1 to 10000 (DSQL's limit of open connections per cluster)", ["Max Pool Size"]);
        public static readonly Keyword MinPoolSize = new(KeywordId.MinPoolSize, "Minimum Pool Size",
            "a pool size of 0 or more", ["Min Pool Size"]);
        public static readonly Keyword ConnectionIdleLifetime = new(KeywordId.ConnectionIdleLifetime,
            "Connection Idle Lifetime", "an idle lifetime in whole seconds of at least 1, or hh:mm:ss", []);
        public static readonly Keyword ConnectionLifetime = new(KeywordId.ConnectionLifetime, "Connection Lifetime",
            "a lifetime in whole seconds from 1 to 3240 (54 minutes), or hh:mm:ss", ["Load Balance Timeout"]);
        public static readonly Keyword Pooling = new(KeywordId.Pooling, "Pooling", "true or false", []);
        public static readonly Keyword Timeout = new(KeywordId.Timeout, "Timeout",
            "a connect timeout in whole seconds from 1 to 1024", ["Connect Timeout"]);
        public static readonly Keyword CommandTimeout = new(KeywordId.CommandTimeout, "Command Timeout",
            "a command timeout in whole seconds, 0 or more (0 waits forever)", []);
        public static readonly Keyword ApplicationName =
            new(KeywordId.ApplicationName, "Application Name", "", []);
        public static readonly Keyword ConnectionRatePerSecond = new(KeywordId.ConnectionRatePerSecond,
            "Connection Rate Per Second", "a rate of new connections per second greater than 0", ["Connection Rate"]);
        public static readonly Keyword ConnectionBurst = new(KeywordId.ConnectionBurst, "Connection Burst",
            "a burst size of at least 1", []);
        public static readonly Keyword ConnectRetries = new(KeywordId.ConnectRetries, "Connect Retries",
            "a retry count from 0 to 100", []);

        public static readonly Keyword[] All =
        [
            Host, Port, Database, Username, Region, Profile, TokenLifetime, HostAddress, RootCertificate, SslMode,
            AllowInsecureTls, MaxPoolSize, MinPoolSize, ConnectionIdleLifetime, ConnectionLifetime, Pooling, Timeout,
            CommandTimeout, ApplicationName, ConnectionRatePerSecond, ConnectionBurst, ConnectRetries,
            new(KeywordId.Password, "Password", "", ["PSW", "PWD"],
                "Password is not accepted: DSQL authenticates with IAM authentication tokens, which the connector " +
                "generates for every new connection from your AWS credentials. Remove Password (the role needs " +
                "dsql:DbConnect, or dsql:DbConnectAdmin for admin)."),
            new(KeywordId.Passfile, "Passfile", "", [],
                "Passfile is not accepted: DSQL authenticates with IAM authentication tokens, which the connector " +
                "generates, so no password file is read. Remove Passfile."),
            new(KeywordId.TrustServerCertificate, "Trust Server Certificate", "", [],
                "Trust Server Certificate is not accepted: it would skip verification of the server certificate, and " +
                "authentication tokens must only be sent to a verified server. DSQL's certificate chains to Amazon Root " +
                "CA 1 in the system trust store; remove it (for a test setup you trust, use SSL Mode=Require with " +
                "Allow Insecure Tls=true)."),
            new(KeywordId.SslCertificate, "SSL Certificate", "", ["sslcert"], "SSL Certificate is not accepted: " + ClientCertificates),
            new(KeywordId.SslKey, "SSL Key", "", ["sslkey"], "SSL Key is not accepted: " + ClientCertificates),
            new(KeywordId.SslPassword, "SSL Password", "", ["sslpassword"], "SSL Password is not accepted: " + ClientCertificates),
        ];

        /// <summary>Normalized keyword (see <see cref="Normalize"/>) to keyword, for names and aliases.</summary>
        public static readonly IReadOnlyDictionary<string, Keyword> Lookup = BuildLookup();

        /// <summary>Npgsql display names and property names to Npgsql property names.</summary>
        public static readonly IReadOnlyDictionary<string, string> NpgsqlProperties = BuildNpgsqlProperties();

        /// <summary>The property name of this setting (on this builder, or on Npgsql's for refused keywords).</summary>
        public string Property => Id.ToString();

        public static string Compact(string key) =>
            key.Replace(" ", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);

        public static string Normalize(string key) => Compact(key).ToUpperInvariant();

        private static Dictionary<string, Keyword> BuildLookup()
        {
            var lookup = new Dictionary<string, Keyword>(StringComparer.Ordinal);
            foreach (var keyword in All)
            {
                lookup[Normalize(keyword.Name)] = keyword;
                lookup[Normalize(keyword.Property)] = keyword;
                foreach (var alias in keyword.Aliases)
                {
                    lookup[Normalize(alias)] = keyword;
                }
            }

            return lookup;
        }

        private static Dictionary<string, string> BuildNpgsqlProperties()
        {
            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var property in typeof(NpgsqlConnectionStringBuilder).GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.GetCustomAttribute<DisplayNameAttribute>() is { } display)
                {
                    map[display.DisplayName] = property.Name;
                    map[property.Name] = property.Name;
                }
            }

            return map;
        }
    }
}
