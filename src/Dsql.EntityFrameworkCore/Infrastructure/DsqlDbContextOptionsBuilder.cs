using Dsql.Connector;
using Microsoft.EntityFrameworkCore;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure;

namespace Dsql.EntityFrameworkCore.Infrastructure;

/// <summary>The DSQL options of a context, given to the <c>configure</c> action of <c>UseDsql()</c>.</summary>
public sealed class DsqlDbContextOptionsBuilder
{
    private Action<NpgsqlDbContextOptionsBuilder>? _npgsql;

    internal DsqlDbContextOptionsBuilder(DbContextOptionsBuilder optionsBuilder) => OptionsBuilder = optionsBuilder;

    /// <summary>The context's options builder.</summary>
    public DbContextOptionsBuilder OptionsBuilder { get; }

    internal DsqlEfOptions Options { get; private set; } = new();

    /// <summary>
    /// Npgsql's provider options (command timeout, query splitting, type plugins, ...). The options DSQL depends on
    /// (the migrations history table's lock) are set by <c>UseDsql()</c> after this action. DSQL's execution strategy is
    /// the default one: Npgsql's <c>ExecutionStrategy(...)</c> or <c>EnableRetryOnFailure()</c> given here replaces it.
    /// </summary>
    public DsqlDbContextOptionsBuilder Npgsql(Action<NpgsqlDbContextOptionsBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _npgsql += configure;
        return this;
    }

    /// <summary>
    /// The <c>CACHE</c> of identity columns created by migrations and <c>EnsureCreated()</c> (default 65536). DSQL
    /// accepts 1 (every value from the sequence's storage: slow inserts, values in commit order per session) or 65536 and
    /// more (each connection takes a block: fast inserts, gaps and values out of insertion order across connections).
    /// A property's own <c>HasIdentityOptions(numbersToCache: n)</c> wins.
    /// </summary>
    /// <param name="cache">1 or at least 65536.</param>
    public DsqlDbContextOptionsBuilder IdentityCache(long cache)
    {
        if (!DsqlEfOptions.IsAcceptedCache(cache))
        {
            throw new ArgumentOutOfRangeException(nameof(cache), cache, "DSQL accepts an identity or sequence CACHE of 1 or of at least 65536.");
        }

        return With(o => o with { IdentityCache = cache });
    }

    /// <summary>
    /// How long the migrations lease (the row that keeps a second process from migrating at the same time) lasts
    /// without renewal (default 15 minutes). It is renewed before every step; a process killed while holding it
    /// blocks others until it expires, so keep it above the longest step (an index build on a large table).
    /// </summary>
    /// <param name="lease">At least one second.</param>
    public DsqlDbContextOptionsBuilder MigrationLease(TimeSpan lease)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lease, TimeSpan.FromSeconds(1));
        return With(o => o with { MigrationLease = lease });
    }

    /// <summary>
    /// How the default execution strategy retries a unit of work after an optimistic-concurrency conflict or a
    /// connection lost before COMMIT: the connector's <see cref="DsqlTransactionOptions"/> (<c>MaxRetries</c>,
    /// <c>BaseDelay</c>, <c>MaxDelay</c>, <c>UseJitter</c>; the other properties do not apply to EF Core), starting from
    /// the connector's defaults. Validated here.
    /// </summary>
    /// <exception cref="DsqlConfigurationException">A value is out of range; the message names it.</exception>
    public DsqlDbContextOptionsBuilder Retries(Action<DsqlTransactionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var retries = new DsqlTransactionOptions
        {
            MaxRetries = Options.MaxRetries,
            BaseDelay = Options.BaseDelay,
            MaxDelay = Options.MaxDelay,
            UseJitter = Options.UseJitter,
        };
        configure(retries);
        retries.Validate();
        return With(o => o with { MaxRetries = retries.MaxRetries, BaseDelay = retries.BaseDelay, MaxDelay = retries.MaxDelay, UseJitter = retries.UseJitter });
    }

    internal DsqlDbContextOptionsBuilder With(Func<DsqlEfOptions, DsqlEfOptions> change)
    {
        Options = change(Options);
        return this;
    }

    internal void ApplyTo(NpgsqlDbContextOptionsBuilder npgsql) => _npgsql?.Invoke(npgsql);
}

/// <summary>The DSQL options of a context, frozen when the options are built.</summary>
internal sealed record DsqlEfOptions
{
    /// <summary>DSQL's rows modified per transaction.</summary>
    internal const int MaxRowsPerTransaction = 3000;

    /// <summary>DSQL's columns per index.</summary>
    internal const int MaxIndexColumns = 8;

    /// <summary>Identity <c>CACHE</c>: 65536, the smallest block DSQL accepts above 1 (see <see cref="DsqlDbContextOptionsBuilder.IdentityCache"/>).</summary>
    public long IdentityCache { get; init; } = 65536;

    /// <summary>The migrations lease (see <see cref="DsqlDbContextOptionsBuilder.MigrationLease"/>).</summary>
    public TimeSpan MigrationLease { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>True for a sequence or identity CACHE DSQL accepts: 1 or at least 65536.</summary>
    internal static bool IsAcceptedCache(long cache) => cache == 1 || cache >= 65536;

    private static readonly DsqlTransactionOptions RetryDefaults = new();

    // The execution strategy's retries: the connector's transaction retry policy and its defaults.
    public int MaxRetries { get; init; } = RetryDefaults.MaxRetries;
    public TimeSpan BaseDelay { get; init; } = RetryDefaults.BaseDelay;
    public TimeSpan MaxDelay { get; init; } = RetryDefaults.MaxDelay;
    public bool UseJitter { get; init; } = RetryDefaults.UseJitter;
}
