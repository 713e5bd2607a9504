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
    /// (the execution strategy, the migrations history table's lock) are set by <c>UseDsql()</c> after this action.
    /// </summary>
    public DsqlDbContextOptionsBuilder Npgsql(Action<NpgsqlDbContextOptionsBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _npgsql += configure;
        return this;
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
}
