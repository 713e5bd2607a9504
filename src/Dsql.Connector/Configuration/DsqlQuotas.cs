// Aurora DSQL's published quotas: the one home of these numbers. This file is compiled into two assemblies: the
// connector (which also has DsqlQuotas.Defaults.cs, its defaults derived from these) and the emulator (linked from
// Dsql.Emulator.csproj), so the emulator enforces exactly what the connector plans for, with no run-time dependency
// between them. Keep it free of references to types of either assembly.
namespace Dsql;

/// <summary>
/// Aurora DSQL's published quotas and fixed facts (shared/dsql-facts.md), in one place for the connector's defaults,
/// the connector's error texts and the emulator's limits.
/// </summary>
internal static partial class DsqlQuotas
{
    /// <summary>The port DSQL listens on.</summary>
    public const int Port = 5432;

    /// <summary>The only database a cluster has; it cannot be created, renamed or dropped.</summary>
    public const string Database = "postgres";

    /// <summary>The role every cluster starts with; its tokens are signed for <c>DbConnectAdmin</c>.</summary>
    public const string AdminRole = "admin";

    /// <summary>Open connections per cluster endpoint; one more is refused with 53300.</summary>
    public const int MaxConnections = 10_000;

    /// <summary>New connections per second, steady rate (the bucket refills at this rate); beyond it 53400.</summary>
    public const double ConnectionRatePerSecond = 100;

    /// <summary>Connections that may arrive at once before the steady rate applies.</summary>
    public const int ConnectionBurst = 1_000;

    /// <summary>Rows one transaction may insert, update or delete; the statement that crosses it fails with 54000.</summary>
    public const int MaxRowsPerTransaction = 3_000;

    /// <summary>Bytes one write transaction may modify (10 MiB); beyond it 54000.</summary>
    public const long MaxBytesPerTransaction = 10L * 1024 * 1024;

    /// <summary>Memory (temporary space) one query may use (128 MiB); beyond it 53200.</summary>
    public const long MaxQueryMemoryBytes = 128L * 1024 * 1024;

    /// <summary>Size of one row (2 MiB); beyond it 54000.</summary>
    public const long MaxRowBytes = 2L * 1024 * 1024;

    /// <summary>Size of one non-key column value (1 MiB); beyond it 54000.</summary>
    public const long MaxColumnBytes = 1024 * 1024;

    /// <summary>Size of one key, primary or index (1 KiB); beyond it 54000.</summary>
    public const long MaxKeyBytes = 1024;

    /// <summary>Columns in one table; beyond it 54011.</summary>
    public const int MaxColumnsPerTable = 255;

    /// <summary>Columns in one index; beyond it 54011.</summary>
    public const int MaxColumnsPerIndex = 8;

    /// <summary>The longest lifetime of an authentication token: 604,800 seconds (7 days, SigV4's presigning maximum).</summary>
    public const int MaxTokenLifetimeSeconds = 604_800;

    /// <summary>The token lifetime the AWS SDKs use when none is given: 900 seconds.</summary>
    public const int DefaultTokenLifetimeSeconds = 900;

    /// <summary>Age at which DSQL closes a connection: 60 minutes.</summary>
    public static readonly TimeSpan MaxConnectionAge = TimeSpan.FromMinutes(60);

    /// <summary>Age at which DSQL ends a transaction with 54000: 300 seconds.</summary>
    public static readonly TimeSpan MaxTransactionAge = TimeSpan.FromSeconds(300);

    /// <summary>The longest lifetime of an authentication token (<see cref="MaxTokenLifetimeSeconds"/>).</summary>
    public static readonly TimeSpan MaxTokenLifetime = TimeSpan.FromSeconds(MaxTokenLifetimeSeconds);

    /// <summary>The AWS SDKs' default token lifetime (<see cref="DefaultTokenLifetimeSeconds"/>).</summary>
    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromSeconds(DefaultTokenLifetimeSeconds);
}
