namespace Dsql.Emulator;

/// <summary>
/// Aurora DSQL's published quotas, in one place: <see cref="DsqlEmulatorOptions"/> takes its defaults from here and
/// <see cref="DsqlMessages"/> words its errors from the same values.
/// </summary>
internal static class DsqlQuotas
{
    /// <summary>Open connections per cluster endpoint; one more is refused with 53300.</summary>
    public const int MaxConnections = 10_000;

    /// <summary>New connections per second, steady rate; beyond it 53400.</summary>
    public const double ConnectionRatePerSecond = 100;

    /// <summary>Connections that may arrive at once before the steady rate applies.</summary>
    public const int ConnectionBurst = 1_000;

    /// <summary>Rows one transaction may insert, update or delete; the statement that crosses it fails with 54000.</summary>
    public const int MaxRowsPerTransaction = 3_000;

    /// <summary>Bytes one write transaction may modify (10 MiB); beyond it 54000.</summary>
    public const long MaxBytesPerTransaction = 10L * 1024 * 1024;

    /// <summary>Age at which DSQL closes a connection.</summary>
    public static readonly TimeSpan MaxConnectionAge = TimeSpan.FromMinutes(60);

    /// <summary>Age at which DSQL ends a transaction with 54000.</summary>
    public static readonly TimeSpan MaxTransactionAge = TimeSpan.FromSeconds(300);
}
