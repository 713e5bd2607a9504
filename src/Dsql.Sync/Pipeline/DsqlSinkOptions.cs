using Dsql.Connector;
using Npgsql;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// The <c>sink:</c> section of a pipeline file: the target, with the option names and defaults of the Flink CDC
/// "Amazon DSQL" pipeline sink, plus <c>host-address</c> and <c>root-certificate</c> to reach a cluster through a
/// tunnel or a local emulator. With <c>use-iam-auth: true</c> (the default) the target is DSQL, reached through
/// Dsql.Connector (<see cref="CreateDataSourceBuilder"/>); with <c>use-iam-auth: false</c> it is a PostgreSQL server
/// reached with a username and password (<see cref="ToNpgsqlSettings"/>). Immutable.
/// </summary>
public sealed class DsqlSinkOptions
{
    /// <summary>The default of <c>sink.port</c>: DSQL's port.</summary>
    public const int DefaultPort = 5432;

    /// <summary>The default of <c>sink.database</c>: the one database of every DSQL cluster.</summary>
    public const string DefaultDatabase = "postgres";

    /// <summary>The default of <c>sink.max-pool-size</c> (the seed's).</summary>
    public const int DefaultMaxPoolSize = 10;

    /// <summary>The default of <c>sink.min-pool-size</c> (the seed's).</summary>
    public const int DefaultMinPoolSize = 2;

    /// <summary>The default of <c>sink.connection-idle-timeout-ms</c>: 5 minutes (the seed's).</summary>
    public const long DefaultConnectionIdleTimeoutMs = 300_000;

    /// <summary>The default of <c>sink.parallelism</c> (the seed's).</summary>
    public const int DefaultParallelism = 1;

    internal DsqlSinkOptions(string? name, string host, int port, string database, bool useIamAuth, string? region,
        string? username, string? password, int maxPoolSize, int minPoolSize, TimeSpan? connectionMaxLifetime,
        TimeSpan connectionIdleTimeout, bool enableFullLoad, int parallelism, string? hostAddress, string? rootCertificate,
        DsqlSinkLoadOptions? loadOptions = null, Cdc.PoisonBehavior poison = Cdc.PoisonBehavior.Stop)
    {
        Poison = poison;
        Name = name;
        Host = host;
        Port = port;
        Database = database;
        UseIamAuth = useIamAuth;
        Region = region;
        Username = username;
        Password = password;
        MaxPoolSize = maxPoolSize;
        MinPoolSize = minPoolSize;
        ConnectionMaxLifetime = connectionMaxLifetime;
        ConnectionIdleTimeout = connectionIdleTimeout;
        EnableFullLoad = enableFullLoad;
        Parallelism = parallelism;
        HostAddress = hostAddress;
        RootCertificate = rootCertificate;
        LoadOptions = loadOptions ?? DsqlSinkLoadOptions.Defaults;
    }

    /// <summary><c>sink.name</c>: a label for the sink in messages, or null.</summary>
    public string? Name { get; }

    /// <summary>
    /// <c>sink.host</c>: with IAM, the cluster endpoint (<c>&lt;cluster id&gt;.dsql.&lt;region&gt;.on.aws</c>) or the
    /// 26-character cluster id; tokens and TLS use it even when <see cref="HostAddress"/> is set. Without IAM, the
    /// PostgreSQL server. Required.
    /// </summary>
    public string Host { get; }

    /// <summary><c>sink.port</c>. Default <see cref="DefaultPort"/>.</summary>
    public int Port { get; }

    /// <summary><c>sink.database</c>. Default <see cref="DefaultDatabase"/>, the only database a DSQL cluster has.</summary>
    public string Database { get; }

    /// <summary><c>sink.use-iam-auth</c>: whether the target is DSQL with IAM authentication tokens. Default true.</summary>
    public bool UseIamAuth { get; }

    /// <summary><c>sink.region</c>: the AWS Region of the cluster, or null to read it from the endpoint or the environment.</summary>
    public string? Region { get; }

    /// <summary>
    /// <c>sink.username</c>: with IAM, the DSQL role to connect as (null: <c>admin</c>); without IAM, the PostgreSQL
    /// role (required).
    /// </summary>
    public string? Username { get; }

    /// <summary><c>sink.password</c>: only without IAM (required there); null with IAM.</summary>
    public string? Password { get; }

    /// <summary><c>sink.max-pool-size</c>: the most connections open to the target. Default <see cref="DefaultMaxPoolSize"/>.</summary>
    public int MaxPoolSize { get; }

    /// <summary><c>sink.min-pool-size</c>: connections kept open when idle. Default <see cref="DefaultMinPoolSize"/>.</summary>
    public int MinPoolSize { get; }

    /// <summary>
    /// <c>sink.connection-max-lifetime-ms</c>: how long a connection is used before it is replaced, or null for the
    /// connector's default (a lifetime that leaves room for a 5-minute transaction before DSQL's 60-minute limit).
    /// </summary>
    public TimeSpan? ConnectionMaxLifetime { get; }

    /// <summary><c>sink.connection-idle-timeout-ms</c>: how long an idle connection is kept. Default 5 minutes.</summary>
    public TimeSpan ConnectionIdleTimeout { get; }

    /// <summary><c>sink.enable-full-load</c>: whether the load copies the rows of the selected tables. Default true.</summary>
    public bool EnableFullLoad { get; }

    /// <summary><c>sink.parallelism</c>: connections that write at the same time. Default <see cref="DefaultParallelism"/>.</summary>
    public int Parallelism { get; }

    /// <summary><c>sink.host-address</c>: the address to connect to instead of <see cref="Host"/> (a tunnel, an emulator), or null.</summary>
    public string? HostAddress { get; }

    /// <summary><c>sink.root-certificate</c>: a PEM file of the root certificate to trust instead of the system store, or null.</summary>
    public string? RootCertificate { get; }

    /// <summary>
    /// dsql-sync's own keys of the sink that shape the load: type-mapping rules, serial mapping, identity cache, write
    /// mode, wire format, chunk and statement sizes (docs/loading.md, "dsql-sync's own sink options").
    /// </summary>
    public DsqlSinkLoadOptions LoadOptions { get; }

    /// <summary>
    /// <c>sink.poison-behavior</c>, for <c>dsql-sync run</c>: what happens to a change DSQL refuses (a value over a limit,
    /// a constraint): <c>stop</c> (the default) stops the pipeline before it, naming it; <c>dead-letter</c> records it
    /// in <c>dsql_sync_dead_letters</c> and goes on. Not in the seed.
    /// </summary>
    public Cdc.PoisonBehavior Poison { get; }

    /// <summary>The connector settings of a DSQL target (<c>use-iam-auth: true</c>), already validated when the file was read.</summary>
    /// <returns>A new settings object; changing it changes nothing here.</returns>
    /// <exception cref="InvalidOperationException">The sink has <c>use-iam-auth: false</c>: use <see cref="ToNpgsqlSettings"/>.</exception>
    public DsqlConnectionStringBuilder ToConnectorSettings()
    {
        if (!UseIamAuth)
        {
            throw new InvalidOperationException(
                "sink.use-iam-auth is false, so the target is a PostgreSQL server reached with a password: use ToNpgsqlSettings().");
        }

        var settings = new DsqlConnectionStringBuilder { Host = Host };
        SinkConnectorSettings.Apply(this, settings);
        return settings;
    }

    /// <summary>A data source builder for a DSQL target: the connector settings, with credentials from the default AWS chain unless the caller sets them.</summary>
    /// <returns>A new builder.</returns>
    /// <exception cref="InvalidOperationException">The sink has <c>use-iam-auth: false</c>: use <see cref="ToNpgsqlSettings"/>.</exception>
    public DsqlDataSourceBuilder CreateDataSourceBuilder() => new(ToConnectorSettings());

    /// <summary>The Npgsql settings of a PostgreSQL target reached with a password (<c>use-iam-auth: false</c>).</summary>
    /// <returns>Host (or host-address), port, database, username, password, the pool settings, and with a root certificate verify-full TLS.</returns>
    /// <exception cref="InvalidOperationException">The sink has <c>use-iam-auth: true</c>: use <see cref="CreateDataSourceBuilder"/>.</exception>
    public NpgsqlConnectionStringBuilder ToNpgsqlSettings()
    {
        if (UseIamAuth)
        {
            throw new InvalidOperationException(
                "sink.use-iam-auth is true, so the target is DSQL reached with IAM tokens: use CreateDataSourceBuilder().");
        }

        var settings = new NpgsqlConnectionStringBuilder
        {
            Host = HostAddress ?? Host,
            Port = Port,
            Database = Database,
            Username = Username,
            Password = Password,
            MaxPoolSize = MaxPoolSize,
            MinPoolSize = MinPoolSize,
            ConnectionIdleLifetime = (int)ConnectionIdleTimeout.TotalSeconds,
            ApplicationName = "dsql-sync",
        };
        if (ConnectionMaxLifetime is { } lifetime)
        {
            settings.ConnectionLifetime = (int)lifetime.TotalSeconds;
        }

        if (RootCertificate is not null)
        {
            settings.RootCertificate = RootCertificate;
            settings.SslMode = SslMode.VerifyFull;
        }

        return settings;
    }

    /// <summary>The sink as text for messages: target kind, host, port and database, never the password.</summary>
    /// <returns>For example <c>dsql sink abc.dsql.us-east-1.on.aws:5432/postgres (IAM)</c>.</returns>
    public override string ToString() =>
        $"dsql sink {Host}:{Port}/{Database} ({(UseIamAuth ? "IAM" : "password")})" + (HostAddress is null ? "" : $" via {HostAddress}");
}
