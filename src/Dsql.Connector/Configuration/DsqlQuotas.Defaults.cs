namespace Dsql;

// The connector's defaults and bounds, each derived from a DSQL quota (DsqlQuotas.cs) or from Npgsql's own default,
// with the reason next to it. The keyword table (DsqlKeywords), the public constants of DsqlConnectionStringBuilder,
// the token generator, the transaction options and the limit texts all read them from here.
internal static partial class DsqlQuotas
{
    /// <summary>Maximum Pool Size by default: Npgsql's default.</summary>
    public const int DefaultMaxPoolSize = 100;

    /// <summary>Minimum Pool Size by default: idle connections cost a connection slot and are cut at 60 minutes anyway.</summary>
    public const int DefaultMinPoolSize = 0;

    /// <summary>Connection Idle Lifetime by default: Npgsql's default, well inside the 60-minute cut.</summary>
    public static readonly TimeSpan DefaultConnectionIdleLifetime = TimeSpan.FromSeconds(300);

    /// <summary>
    /// The longest Connection Lifetime: 54 minutes. The pool checks a lifetime only when a connection is rented or
    /// returned, so a connection rented just before its lifetime ends may still run the longest transaction
    /// (<see cref="MaxTransactionAge"/>); that must end a minute before <see cref="MaxConnectionAge"/>.
    /// </summary>
    public static readonly TimeSpan MaxConnectionLifetime = MaxConnectionAge - MaxTransactionAge - TimeSpan.FromMinutes(1);

    /// <summary>Timeout (seconds) by default: Npgsql's default.</summary>
    public const int DefaultTimeout = 15;

    /// <summary>The longest Timeout (seconds) Npgsql accepts.</summary>
    public const int MaxTimeout = 1024;

    /// <summary>Command Timeout (seconds) by default: Npgsql's default.</summary>
    public const int DefaultCommandTimeout = 30;

    /// <summary>Connect Retries by default: with exponential backoff, rides out a short burst of refusals.</summary>
    public const int DefaultConnectRetries = 5;

    /// <summary>The most Connect Retries allowed.</summary>
    public const int MaxConnectRetries = 100;

    /// <summary>
    /// The transaction guard by default: <see cref="MaxTransactionAge"/> less 10 s, so that the connector ends a
    /// transaction before DSQL does and can say why.
    /// </summary>
    public static readonly TimeSpan DefaultTransactionTimeout = MaxTransactionAge - TimeSpan.FromSeconds(10);
}
