using System.ComponentModel;
using System.Data.Common;
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
/// Like <see cref="NpgsqlConnectionStringBuilder"/>, it is a <see cref="DbConnectionStringBuilder"/>: settings can
/// be read and written by keyword or synonym through the indexer (<c>builder["Max Pool Size"] = 10</c>),
/// <see cref="TryGetValue"/>, <see cref="ContainsKey"/>, <see cref="Remove"/> and <see cref="Keys"/> (the keywords
/// whose value differs from its default), as well as through the typed properties.
/// </para>
/// <para>
/// Keywords that are not DSQL settings but that Npgsql knows are checked by Npgsql and kept in
/// <see cref="NpgsqlOptions"/>. Settings that cannot work with DSQL or would weaken its security
/// (<c>Password</c>, <c>Passfile</c>, <c>Trust Server Certificate</c>, client certificates, <c>Enlist=true</c>,
/// <c>No Reset On Close=false</c>, <c>Host</c> given twice) are refused with a <see cref="DsqlConfigurationException"/>.
/// </para>
/// <para>
/// Nothing here reads the environment or AWS configuration files except <see cref="ResolveRegion()"/>; a data
/// source resolves the Region when it is built. Instances are not thread-safe: configure one, call
/// <see cref="Validate"/>, then hand it over.
/// </para>
/// </remarks>
public sealed partial class DsqlConnectionStringBuilder : DbConnectionStringBuilder
{
    /// <summary>The port DSQL listens on: 5432.</summary>
    public const int DefaultPort = DsqlQuotas.Port;

    /// <summary>The only database a DSQL cluster has: <c>postgres</c>.</summary>
    public const string DefaultDatabase = DsqlQuotas.Database;

    /// <summary>The role every DSQL cluster starts with: <c>admin</c>.</summary>
    public const string DefaultUsername = DsqlQuotas.AdminRole;

    /// <summary>The default token lifetime, 900 seconds: the AWS SDKs' default for DSQL tokens.</summary>
    public static readonly TimeSpan DefaultTokenLifetime = DsqlQuotas.DefaultTokenLifetime;

    /// <summary>The longest token lifetime DSQL accepts: 604,800 seconds (7 days).</summary>
    public static readonly TimeSpan MaximumTokenLifetime = DsqlQuotas.MaxTokenLifetime;

    /// <summary>
    /// The longest <see cref="ConnectionLifetime"/> allowed: 54 minutes. DSQL closes a connection after
    /// 60 minutes, a transaction may run for 5 minutes, and the pool checks the lifetime only when a connection
    /// is rented or returned, so lifetime + 5 minutes must stay within 59 minutes (one minute of margin).
    /// </summary>
    public static readonly TimeSpan MaximumConnectionLifetime = DsqlQuotas.MaxConnectionLifetime;

    /// <summary>The default idle lifetime of a pooled connection, 300 seconds (Npgsql's default).</summary>
    public static readonly TimeSpan DefaultConnectionIdleLifetime = DsqlQuotas.DefaultConnectionIdleLifetime;

    /// <summary>The largest pool that makes sense: 10,000, DSQL's limit of open connections per cluster.</summary>
    public const int MaximumPoolSizeLimit = DsqlQuotas.MaxConnections;

    /// <summary>The longest connect timeout Npgsql accepts, 1024 seconds.</summary>
    public const int MaximumTimeout = DsqlQuotas.MaxTimeout;

    /// <summary>The most connect retries allowed, 100.</summary>
    public const int MaximumConnectRetries = DsqlQuotas.MaxConnectRetries;

    /// <summary>Creates a builder holding the defaults and no host; set <see cref="Host"/> before use.</summary>
    public DsqlConnectionStringBuilder()
    {
        ResetValues();
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
        ResetValues();
        Load(connectionString);
        if (validate)
        {
            Validate();
        }
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
    /// Keywords <c>Host</c>, <c>Server</c>.
    /// For a multi-Region cluster, several regional endpoints separated by commas
    /// (<c>a.dsql.us-east-1.on.aws,b.dsql.us-east-2.on.aws</c>; each a full endpoint, since its name gives the Region its
    /// tokens are signed for; each at most once; optionally <c>host:port</c> for a tunnel or the emulator, else
    /// <see cref="Port"/>): the data source then has one pool per endpoint, opens on the preferred one
    /// (<see cref="PreferredRegion"/>) and fails over to the others (see docs/multi-region.md). <see cref="Region"/>
    /// cannot be set with several endpoints; <see cref="HostAddress"/> applies to each.
    /// </summary>
    public string? Host { get => Get(DsqlKeywords.Host); set => Put(DsqlKeywords.Host, value); }

    /// <summary>The port to connect to. Default 5432, the port DSQL listens on; from 1 to 65535.</summary>
    public int Port { get => Get(DsqlKeywords.Port); set => Put(DsqlKeywords.Port, value); }

    /// <summary>
    /// The database. Default and only value allowed: <c>postgres</c>, the one database every DSQL cluster has.
    /// Keywords <c>Database</c>, <c>DB</c>, <c>dbname</c>.
    /// </summary>
    public string Database { get => Get(DsqlKeywords.Database); set => Put(DsqlKeywords.Database, value); }

    /// <summary>
    /// The database role. Default <c>admin</c>, the role every cluster starts with (its tokens need
    /// <c>dsql:DbConnectAdmin</c>; other roles need <c>dsql:DbConnect</c>). Keywords <c>Username</c>,
    /// <c>User Name</c>, <c>User Id</c>, <c>UserId</c>, <c>UID</c>, <c>User</c>.
    /// </summary>
    public string Username { get => Get(DsqlKeywords.Username); set => Put(DsqlKeywords.Username, value); }

    /// <summary>
    /// The cluster id (26 characters <c>[a-z0-9]</c>, lower-cased) when <see cref="Host"/> is a cluster id or an
    /// endpoint whose first label is one; otherwise null (also when Host names several endpoints: a multi-Region
    /// cluster has a cluster id per Region).
    /// </summary>
    [Browsable(false)]
    public string? ClusterId => Host?.Trim() is { Length: > 0 } host && !DsqlHostList.IsList(host) ? DsqlEndpointName.ClusterIdOf(host) : null;

    /// <summary>
    /// The full host name authentication tokens are signed for and TLS verifies (lower-cased): <see cref="Host"/>
    /// when it is an endpoint, <c>&lt;cluster id&gt;.dsql.&lt;region&gt;.on.aws</c> when it is a cluster id and
    /// <see cref="Region"/> is set. Reads no environment and no file: for a cluster id without Region, the data source
    /// resolves the Region when it is built (see <see cref="DsqlDataSource.Endpoint"/>, <see cref="ResolveRegion()"/>).
    /// </summary>
    /// <exception cref="DsqlConfigurationException">
    /// Host is missing or invalid, names several endpoints, Region is invalid, or Host is a cluster id and Region is not set.
    /// </exception>
    [Browsable(false)]
    public string Endpoint
    {
        get
        {
            var host = DsqlSettingsValidator.CheckHost(Host);
            if (!DsqlEndpointName.IsClusterId(host))
            {
                return host;
            }

            var region = DsqlRegionResolver.Known(Host, Region) ?? throw new DsqlConfigurationException(nameof(Region),
                $"Host '{host}' is a cluster id and Region is not set, so its endpoint depends on the AWS environment: a " +
                "data source reads AWS_REGION, AWS_DEFAULT_REGION or the AWS profile's region when it is built " +
                "(DsqlDataSource.Endpoint then names the endpoint), and ResolveRegion() reads them now. Set Region to " +
                "know the endpoint from the settings alone.");
            return DsqlEndpointName.EndpointOf(host, region);
        }
    }

    /// <summary>
    /// The AWS Region tokens are signed for. Null by default: the Region is then read from the endpoint, or
    /// from the AWS Region chain when <see cref="Host"/> is a cluster id (see <see cref="ResolveRegion()"/>).
    /// Set it when Host is a cluster id and the environment names no Region; it must agree with the endpoint's.
    /// </summary>
    public string? Region { get => Get(DsqlKeywords.Region); set => Put(DsqlKeywords.Region, value); }

    /// <summary>
    /// The AWS shared-config profile whose credentials sign tokens (and whose region is the last Region fallback).
    /// Null by default: the default credential chain (environment, <c>AWS_PROFILE</c> or <c>default</c>, container
    /// and instance roles), as every AWS SDK does. Keywords <c>Profile</c>, <c>AWS Profile</c>.
    /// </summary>
    public string? Profile { get => Get(DsqlKeywords.Profile); set => Put(DsqlKeywords.Profile, value); }

    /// <summary>
    /// How long each authentication token is valid. Default 900 seconds, the AWS SDKs' default; from 1 second to
    /// 604,800 seconds (7 days, DSQL's maximum), in whole seconds. A token is checked only when a connection is
    /// opened, so this bounds how long a generated token may be reused for new connections, not how long a
    /// connection lives. Keyword <c>Token Lifetime</c>: seconds, or <c>hh:mm:ss</c>.
    /// </summary>
    public TimeSpan TokenLifetime { get => Get(DsqlKeywords.TokenLifetime); set => Put(DsqlKeywords.TokenLifetime, value); }

    /// <summary>
    /// The network address to connect to instead of the endpoint's name, like libpq's <c>hostaddr</c>: an SSH
    /// tunnel, a port forward or a local emulator. Tokens are still signed for, and the server certificate still
    /// verified against, <see cref="Endpoint"/>. Null by default: connect to the endpoint itself.
    /// Keywords <c>Host Address</c>, <c>hostaddr</c>.
    /// </summary>
    public string? HostAddress { get => Get(DsqlKeywords.HostAddress); set => Put(DsqlKeywords.HostAddress, value); }

    /// <summary>
    /// Path of a PEM file holding the root certificate(s) to trust for the server certificate. Null by default:
    /// the system trust store, which holds Amazon Root CA 1, the root of DSQL's certificates. The file must
    /// exist. Keywords <c>Root Certificate</c>, <c>sslrootcert</c>.
    /// </summary>
    public string? RootCertificate { get => Get(DsqlKeywords.RootCertificate); set => Put(DsqlKeywords.RootCertificate, value); }

    /// <summary>
    /// The TLS mode. Default and only value accepted on its own: <see cref="Npgsql.SslMode.VerifyFull"/>, because
    /// a token is a bearer credential and must only be sent to a verified DSQL server. Weaker modes are accepted
    /// only with <see cref="AllowInsecureTls"/>. Keywords <c>SSL Mode</c>, <c>sslmode</c>; values as in Npgsql or
    /// libpq (<c>verify-full</c>).
    /// </summary>
    public SslMode SslMode { get => Get(DsqlKeywords.SslMode); set => Put(DsqlKeywords.SslMode, value); }

    /// <summary>
    /// Allows an <see cref="SslMode"/> weaker than VerifyFull, for test setups such as a local emulator with a
    /// self-signed certificate. Default false: verify-full TLS is not weakened by accident. Keyword
    /// <c>Allow Insecure Tls</c>.
    /// </summary>
    public bool AllowInsecureTls { get => Get(DsqlKeywords.AllowInsecureTls); set => Put(DsqlKeywords.AllowInsecureTls, value); }

    /// <summary>
    /// The most physical connections the pool opens. Default 100, Npgsql's default; from 1 to 10,000 (DSQL's limit
    /// of open connections per cluster). Keywords <c>Maximum Pool Size</c>, <c>Max Pool Size</c>.
    /// </summary>
    public int MaxPoolSize { get => Get(DsqlKeywords.MaxPoolSize); set => Put(DsqlKeywords.MaxPoolSize, value); }

    /// <summary>
    /// The physical connections the pool keeps open even when idle. Default 0: idle connections cost a DSQL
    /// connection slot and are closed by the server after 60 minutes anyway. From 0 to <see cref="MaxPoolSize"/>.
    /// Keywords <c>Minimum Pool Size</c>, <c>Min Pool Size</c>.
    /// </summary>
    public int MinPoolSize { get => Get(DsqlKeywords.MinPoolSize); set => Put(DsqlKeywords.MinPoolSize, value); }

    /// <summary>
    /// How long a pooled connection may stay idle before it is closed. Default 300 seconds (Npgsql's default),
    /// well inside DSQL's 60-minute connection limit; whole seconds, at least 1. Keyword
    /// <c>Connection Idle Lifetime</c>: seconds, or <c>hh:mm:ss</c>.
    /// </summary>
    public TimeSpan ConnectionIdleLifetime { get => Get(DsqlKeywords.ConnectionIdleLifetime); set => Put(DsqlKeywords.ConnectionIdleLifetime, value); }

    /// <summary>
    /// How long a physical connection may live before the pool closes it. Null by default: the connector's pool
    /// policy chooses. When set: whole seconds, more than 0 and at most 54 minutes, because DSQL closes connections
    /// after 60 minutes, a transaction may take 5 minutes, and the pool checks the lifetime only when a connection is
    /// rented or returned. Keywords <c>Connection Lifetime</c>, <c>Load Balance Timeout</c>: seconds or <c>hh:mm:ss</c>.
    /// </summary>
    public TimeSpan? ConnectionLifetime { get => Get(DsqlKeywords.ConnectionLifetime); set => Put(DsqlKeywords.ConnectionLifetime, value); }

    /// <summary>
    /// Whether connections are pooled. Default true: opening a DSQL connection costs a TLS handshake, a token and a
    /// slot in the cluster's connection rate (100 per second).
    /// </summary>
    public bool Pooling { get => Get(DsqlKeywords.Pooling); set => Put(DsqlKeywords.Pooling, value); }

    /// <summary>
    /// Seconds an open of a connection may take in all, from the call to the open connection: the wait for a pooled
    /// connection or a connection-rate permit, every attempt (TCP, TLS, authentication) and the retry delays. Default
    /// 15, Npgsql's default; from 1 to 1024 (Npgsql's maximum).
    /// Keywords <c>Timeout</c>, <c>Connect Timeout</c>, <c>connect_timeout</c>.
    /// </summary>
    public int Timeout { get => Get(DsqlKeywords.Timeout); set => Put(DsqlKeywords.Timeout, value); }

    /// <summary>
    /// Seconds to wait for a command to complete. Default 30, Npgsql's default; 0 waits forever (DSQL still ends a
    /// transaction after 300 seconds). Keyword <c>Command Timeout</c>.
    /// </summary>
    public int CommandTimeout { get => Get(DsqlKeywords.CommandTimeout); set => Put(DsqlKeywords.CommandTimeout, value); }

    /// <summary>
    /// The application name reported to the server. Null by default: the connector sets its own.
    /// Keywords <c>Application Name</c>, <c>application_name</c>.
    /// </summary>
    public string? ApplicationName { get => Get(DsqlKeywords.ApplicationName); set => Put(DsqlKeywords.ApplicationName, value); }

    /// <summary>
    /// Steady rate of new physical connections this client opens per second. Default 100: DSQL's published
    /// connection rate per cluster, so one client alone never triggers "rate exceeded" (53400). More than 0.
    /// Keyword <c>Connection Rate Per Second</c>.
    /// </summary>
    public double ConnectionRatePerSecond { get => Get(DsqlKeywords.ConnectionRatePerSecond); set => Put(DsqlKeywords.ConnectionRatePerSecond, value); }

    /// <summary>
    /// How many connections may be opened at once above the steady rate. Default 1000: DSQL's published burst.
    /// At least 1. Keyword <c>Connection Burst</c>.
    /// </summary>
    public int ConnectionBurst { get => Get(DsqlKeywords.ConnectionBurst); set => Put(DsqlKeywords.ConnectionBurst, value); }

    /// <summary>
    /// How many times a failed connect is retried when the failure is transient (rate exceeded, too many
    /// connections, network errors). Default 5, which with exponential backoff rides out a short burst of refusals;
    /// from 0 to 100. Keyword <c>Connect Retries</c>.
    /// </summary>
    public int ConnectRetries { get => Get(DsqlKeywords.ConnectRetries); set => Put(DsqlKeywords.ConnectRetries, value); }

    /// <summary>
    /// Determines the AWS Region tokens are signed for: <see cref="Region"/> when set (it must agree with the
    /// Region in the endpoint); else the Region in the endpoint name (<c>.dsql[-suffix].&lt;region&gt;.on.aws</c>);
    /// else the <c>AWS_REGION</c> then <c>AWS_DEFAULT_REGION</c> environment variables; else the region of the AWS
    /// profile (<see cref="Profile"/>, else <c>AWS_PROFILE</c>, else <c>default</c>). The last two read the
    /// environment and the AWS config files; <see cref="DsqlDataSourceBuilder.Build"/> calls this once.
    /// </summary>
    /// <returns>The Region name, lower-cased, such as <c>us-east-1</c>.</returns>
    /// <exception cref="DsqlConfigurationException">
    /// (Setting <c>Region</c>) No source names a Region, a Region is malformed, or Region contradicts the endpoint.
    /// </exception>
    public string ResolveRegion() => ResolveRegion(DsqlRegionResolver.ReadProfileRegion);

    /// <summary>
    /// Checks every setting; throws a <see cref="DsqlConfigurationException"/> naming the first invalid setting and
    /// its value. The parsing constructor calls it; call it after changing properties. It reads no environment and
    /// no AWS configuration (only whether the <see cref="RootCertificate"/> file exists): a Region that only the
    /// environment can give is looked for when the data source is built.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">A setting is missing, malformed, out of range or not allowed.</exception>
    public void Validate()
    {
        var problems = new List<DsqlConfigurationException>();
        DsqlSettingsValidator.Collect(this, problems);
        if (problems.Count > 0)
        {
            throw problems[0];
        }
    }

    /// <summary>The name of the setting (as in <see cref="DsqlConfigurationException.Setting"/>) a keyword sets, or null for keywords unknown here.</summary>
    internal static string? SettingOfKeyword(string keyword) => DsqlKeywords.SettingOf(keyword);

    /// <summary>
    /// Every problem of the settings (not only the first), for reports that list them all; unlike
    /// <see cref="Validate"/> it also resolves the Region (environment, AWS profile), as start-up validation must.
    /// </summary>
    internal void CollectProblems(List<DsqlConfigurationException> problems)
    {
        DsqlSettingsValidator.Collect(this, problems);
        // Several endpoints each name their Region: there is no one Region to resolve.
        if (!DsqlHostList.IsList(Host) && !problems.Exists(p => p.Setting is nameof(Host) or nameof(Region)))
        {
            try
            {
                ResolveRegion();
            }
            catch (DsqlConfigurationException ex)
            {
                problems.Insert(0, ex);
            }
        }
    }

    /// <summary>The Region, with the profile's region read by <paramref name="profileRegionReader"/> (tests pass their own).</summary>
    internal string ResolveRegion(Func<string, string?> profileRegionReader) =>
        DsqlHostList.IsList(Host)
            ? throw new DsqlConfigurationException(nameof(Host),
                $"Host '{Host}' names several endpoints, each in the Region its name gives: there is no one Region to resolve (see DsqlDataSource.Endpoints).")
            : DsqlRegionResolver.Resolve(Host, Region, Profile, profileRegionReader, Environment.GetEnvironmentVariable);

    /// <summary>The endpoint once the Region is known: Host itself, or the cluster id's endpoint in <paramref name="region"/>.</summary>
    internal string EndpointIn(string region)
    {
        var host = DsqlSettingsValidator.CheckHost(Host);
        return DsqlEndpointName.IsClusterId(host) ? DsqlEndpointName.EndpointOf(host, region) : host;
    }
}
