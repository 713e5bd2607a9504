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
    private static readonly DsqlTransactionOptions RetryDefaults = new();

    // The execution strategy's retries: the connector's transaction retry policy and its defaults.
    public int MaxRetries { get; init; } = RetryDefaults.MaxRetries;
    public TimeSpan BaseDelay { get; init; } = RetryDefaults.BaseDelay;
    public TimeSpan MaxDelay { get; init; } = RetryDefaults.MaxDelay;
    public bool UseJitter { get; init; } = RetryDefaults.UseJitter;
}
