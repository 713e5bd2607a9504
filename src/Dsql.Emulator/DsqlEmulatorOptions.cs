namespace Dsql.Emulator;

/// <summary>
/// Settings of a <see cref="DsqlEmulator"/>. Every limit defaults to Aurora DSQL's published value; tests lower
/// them to reach a limit quickly.
/// </summary>
public sealed class DsqlEmulatorOptions
{
    /// <summary>The well-known example access key id from AWS documentation, accepted when no key is configured.</summary>
    public const string ExampleAccessKeyId = "AKIAIOSFODNN7EXAMPLE";

    /// <summary>The secret of <see cref="ExampleAccessKeyId"/>, also from AWS documentation.</summary>
    public const string ExampleSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// <summary>Endpoints to expose. Empty means one endpoint, <see cref="EmulatorEndpoint.DefaultHost"/>, on a free port.</summary>
    public IList<EmulatorEndpoint> Endpoints { get; } = new List<EmulatorEndpoint>();

    /// <summary>Access keys whose tokens are accepted. Empty means the AWS documentation example key only.</summary>
    public IList<EmulatorAccessKey> AccessKeys { get; } = new List<EmulatorAccessKey>();

    /// <summary>
    /// Connection string of an existing PostgreSQL server, dedicated to the emulator, to use as the backend
    /// (<c>Host=...;Port=...;Username=...;Password=...;Database=...</c>; a Host starting with '/' is a Unix-socket
    /// directory). When null the emulator starts a throwaway cluster of its own.
    /// The login role must be a superuser other than <c>admin</c> (the emulator installs its helpers with it and makes
    /// <c>admin</c> an ordinary role); its password is sent for that role only. Every other role must be able to log
    /// in without a password, on a socket only the emulator's system user can reach. See docs/emulator.md.
    /// </summary>
    public string? BackendConnectionString { get; set; }

    /// <summary>Directory of PostgreSQL's initdb, pg_ctl and postgres for the throwaway cluster. Default: <c>PG_BIN</c>, PATH, <c>/usr/lib/postgresql/*/bin</c>.</summary>
    public string? PgBin { get; set; }

    /// <summary>Where to write the emulator's CA certificate (PEM) so clients can verify-full against it. A file in the emulator's work directory is always written too.</summary>
    public string? CaCertificateOutputPath { get; set; }

    /// <summary>
    /// Open sessions per endpoint; one more is refused with 53300. DSQL: 10,000. A connection is counted once it has
    /// authenticated (a valid token), so clients that connect and say nothing cannot lock valid clients out.
    /// </summary>
    public int MaxConnections { get; set; } = DsqlQuotas.MaxConnections;

    /// <summary>
    /// Connections per endpoint that may be in their handshake (accepted, not yet authenticated) at once; one more is
    /// answered 53300 at once and closed. Each costs a socket and a TLS state for at most <see cref="HandshakeTimeout"/>.
    /// Default 1,000: DSQL's connection burst, the most connections a well-behaved fleet opens at one moment.
    /// </summary>
    public int MaxPendingHandshakes { get; set; } = DsqlQuotas.ConnectionBurst;

    /// <summary>New connections per second per endpoint, refilled steadily; beyond it 53400. DSQL: 100.</summary>
    public double ConnectionRatePerSecond { get; set; } = DsqlQuotas.ConnectionRatePerSecond;

    /// <summary>Connections that may arrive at once before the rate applies. DSQL: 1,000.</summary>
    public int ConnectionBurst { get; set; } = DsqlQuotas.ConnectionBurst;

    /// <summary>Age at which the emulator closes a session. DSQL: 60 minutes.</summary>
    public TimeSpan MaxConnectionAge { get; set; } = DsqlQuotas.MaxConnectionAge;

    /// <summary>Age at which a transaction is ended with 54000 and rolled back. DSQL: 300 seconds.</summary>
    public TimeSpan MaxTransactionAge { get; set; } = DsqlQuotas.MaxTransactionAge;

    /// <summary>Rows a transaction may insert, update or delete; the statement that crosses it fails with 54000. DSQL: 3,000.</summary>
    public int MaxRowsPerTransaction { get; set; } = DsqlQuotas.MaxRowsPerTransaction;

    /// <summary>Bytes of rows a transaction may write (measured as PostgreSQL row sizes); beyond it 54000. DSQL: 10 MiB.</summary>
    public long MaxBytesPerTransaction { get; set; } = DsqlQuotas.MaxBytesPerTransaction;

    /// <summary>
    /// How long a writer may wait for a row lock held by another transaction before it fails with 40001 (OC000).
    /// DSQL never waits: it fails one of the conflicting transactions. PostgreSQL makes the second writer wait;
    /// a short wait keeps that close to DSQL and lets tests that hold a row in one session and write it in another finish.
    /// </summary>
    public TimeSpan LockWaitTimeout { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The shortest time an asynchronous DDL job (<c>CREATE INDEX ASYNC</c>, <c>ALTER TABLE ASYNC ... VALIDATE
    /// CONSTRAINT</c>) takes: until then the index or constraint is not valid and <c>sys.jobs</c> shows the job as
    /// processing. DSQL's builds take seconds even on empty tables, so code that uses an index before
    /// <c>sys.wait_for_job</c> says it is ready fails on DSQL; a build that finishes at once would hide that.
    /// Default 500 ms: long enough to show the mistake, short enough for test suites. Zero builds at full speed.
    /// </summary>
    public TimeSpan MinimumJobDuration { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How far a token's X-Amz-Date may lie in the future of the emulator's clock. Default 5 minutes, as AWS allows.</summary>
    public TimeSpan AllowedClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Time a client has to finish TLS, startup and authentication. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Interval at which ages (connection, transaction) are checked. Default 100 ms.</summary>
    public TimeSpan SupervisionInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary><c>max_connections</c> of the throwaway cluster (ignored when attaching). Default 1,200.</summary>
    public int BackendMaxConnections { get; set; } = 1200;

    /// <summary>The clock tokens and ages are checked against. Default: the system clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        var problems = new List<string>();
        if (MaxConnections < 1) problems.Add($"MaxConnections must be at least 1 (got {MaxConnections}).");
        if (MaxPendingHandshakes < 1) problems.Add($"MaxPendingHandshakes must be at least 1 (got {MaxPendingHandshakes}).");
        if (!(ConnectionRatePerSecond > 0)) problems.Add($"ConnectionRatePerSecond must be above 0 (got {ConnectionRatePerSecond}).");
        if (ConnectionBurst < 1) problems.Add($"ConnectionBurst must be at least 1 (got {ConnectionBurst}).");
        if (MaxConnectionAge <= TimeSpan.Zero) problems.Add($"MaxConnectionAge must be positive (got {MaxConnectionAge}).");
        if (MaxTransactionAge <= TimeSpan.Zero) problems.Add($"MaxTransactionAge must be positive (got {MaxTransactionAge}).");
        if (MaxRowsPerTransaction < 1) problems.Add($"MaxRowsPerTransaction must be at least 1 (got {MaxRowsPerTransaction}).");
        if (MaxBytesPerTransaction < 1) problems.Add($"MaxBytesPerTransaction must be at least 1 (got {MaxBytesPerTransaction}).");
        if (LockWaitTimeout < TimeSpan.Zero) problems.Add($"LockWaitTimeout must not be negative (got {LockWaitTimeout}).");
        if (MinimumJobDuration < TimeSpan.Zero) problems.Add($"MinimumJobDuration must not be negative (got {MinimumJobDuration}).");
        if (AllowedClockSkew < TimeSpan.Zero) problems.Add($"AllowedClockSkew must not be negative (got {AllowedClockSkew}).");
        if (HandshakeTimeout <= TimeSpan.Zero) problems.Add($"HandshakeTimeout must be positive (got {HandshakeTimeout}).");
        if (SupervisionInterval <= TimeSpan.Zero) problems.Add($"SupervisionInterval must be positive (got {SupervisionInterval}).");
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var endpoint in Endpoints)
        {
            if (string.IsNullOrWhiteSpace(endpoint.Host)) problems.Add("An endpoint has an empty Host.");
            else if (!hosts.Add(endpoint.Host)) problems.Add($"Endpoint '{endpoint.Host}' is listed twice.");
            else if (endpoint.Region is null && EmulatorEndpoint.RegionFromHost(endpoint.Host) is null)
                problems.Add($"Cannot tell the Region of endpoint '{endpoint.Host}': give it explicitly.");
            if (endpoint.Port is < 0 or > 65535) problems.Add($"Endpoint '{endpoint.Host}': Port {endpoint.Port} is outside 0-65535.");
        }
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in AccessKeys)
        {
            if (string.IsNullOrEmpty(key.AccessKeyId) || string.IsNullOrEmpty(key.SecretAccessKey)) problems.Add("An access key has an empty id or secret.");
            else if (!keys.Add(key.AccessKeyId)) problems.Add($"Access key '{key.AccessKeyId}' is listed twice.");
        }
        if (problems.Count > 0)
            throw new ArgumentException("Invalid DSQL emulator options:" + Environment.NewLine + "- " + string.Join(Environment.NewLine + "- ", problems));
    }
}
