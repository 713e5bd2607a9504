namespace Dsql.Connector;

/// <summary>
/// How <see cref="DsqlDataSource.ExecuteInTransactionAsync{T}"/> runs a transaction: how often it retries an
/// optimistic-concurrency conflict, how long it waits between attempts, and how long one attempt may take.
/// Plain data; validated when used.
/// </summary>
public sealed class DsqlTransactionOptions
{
    /// <summary>The transaction limit DSQL enforces: 300 seconds.</summary>
    public static readonly TimeSpan DsqlTransactionLimit = DsqlQuotas.MaxTransactionAge;

    /// <summary>Default guard: DSQL's 300 s less 10 s, so that the connector ends a transaction before DSQL does and can say why.</summary>
    public static readonly TimeSpan DefaultTimeout = DsqlQuotas.DefaultTransactionTimeout;

    /// <summary>The defaults, shared; do not modify.</summary>
    internal static DsqlTransactionOptions Default { get; } = new();

    /// <summary>
    /// Retries after the first attempt when the transaction fails with 40001 (OC000/OC001) or loses its connection
    /// before COMMIT is sent; the two share this budget. Default 10: in the contention benchmark (32 writers on 8 rows,
    /// docs/performance.md) no transaction gave up with the default backoff.
    /// </summary>
    public int MaxRetries { get; set; } = 10;

    /// <summary>
    /// Delay before the first retry; it doubles with each further retry. Default 50 ms: of the settings measured
    /// (1, 10, 50 and 100 ms), it gave the most commits per second and the lowest p99 (docs/performance.md).
    /// </summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Longest delay between two attempts. Default 2 s (measured with <see cref="BaseDelay"/>, docs/performance.md).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Randomizes each delay so that conflicting clients do not retry in step. Default true.</summary>
    public bool UseJitter { get; set; } = true;

    /// <summary>
    /// The work only reads. A read-only transaction cannot conflict on DSQL, so it runs once, without the retry
    /// pipeline, and ends with ROLLBACK rather than COMMIT (nothing to write).
    /// </summary>
    public bool ReadOnly { get; set; }

    /// <summary>
    /// The transaction guard: an attempt still running after this long is cancelled, rolled back and reported with
    /// <see cref="DsqlTransactionTimeoutException"/>. Default <see cref="DefaultTimeout"/>; at most 300 s.
    /// </summary>
    public TimeSpan Timeout { get; set; } = DefaultTimeout;

    internal void Validate()
    {
        if (MaxRetries is < 0 or > 1000)
            throw new DsqlConfigurationException(nameof(MaxRetries), $"DsqlTransactionOptions.MaxRetries '{MaxRetries}' must be between 0 and 1000.");
        if (BaseDelay < TimeSpan.Zero)
            throw new DsqlConfigurationException(nameof(BaseDelay), $"DsqlTransactionOptions.BaseDelay '{BaseDelay.TotalMilliseconds:0.###} ms' must not be negative.");
        if (MaxDelay < BaseDelay)
            throw new DsqlConfigurationException(nameof(MaxDelay), $"DsqlTransactionOptions.MaxDelay '{MaxDelay.TotalMilliseconds:0.###} ms' must be at least BaseDelay ({BaseDelay.TotalMilliseconds:0.###} ms).");
        if (Timeout <= TimeSpan.Zero || Timeout > DsqlTransactionLimit)
            throw new DsqlConfigurationException(nameof(Timeout), $"DsqlTransactionOptions.Timeout '{Timeout.TotalSeconds:0.###} s' must be above zero and at most DSQL's transaction limit of {DsqlQuotas.MaxTransactionAge.TotalSeconds:0} s.");
    }
}
