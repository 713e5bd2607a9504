using System.Collections.Concurrent;
using Dsql.Connector;
using Dsql.EntityFrameworkCore;
using Dsql.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure;

// In EF Core's namespace, as providers put their Use* methods, so that `using Microsoft.EntityFrameworkCore;` finds them.
namespace Microsoft.EntityFrameworkCore;

/// <summary>
/// <c>UseDsql()</c>: EF Core on Amazon Aurora DSQL through Npgsql's provider, with DSQL's transactions, retries and
/// migrations. See docs/efcore.md.
/// </summary>
public static class DsqlDbContextOptionsBuilderExtensions
{
    // One data source per connection string for the process, as Npgsql's provider keeps one per connection string:
    // a data source owns a pool and a token cache, and a context is created per unit of work.
    private static readonly ConcurrentDictionary<string, Lazy<DsqlDataSource>> DataSources = new(StringComparer.Ordinal);

    /// <summary>
    /// Uses the DSQL cluster named by <paramref name="connectionString"/> (the connector's keywords: <c>Host</c>,
    /// <c>Region</c>, <c>Username</c>, ...). One <see cref="DsqlDataSource"/> per distinct connection string is built on
    /// first use and shared by every context of the process; build a data source yourself (or register it with
    /// <c>AddDsql()</c>) to choose credentials, logging or a time provider.
    /// </summary>
    /// <param name="optionsBuilder">The context's options.</param>
    /// <param name="connectionString">A connector connection string (docs/configuration.md).</param>
    /// <param name="configure">DSQL-specific options, and Npgsql's provider options through <see cref="DsqlDbContextOptionsBuilder.Npgsql"/>.</param>
    public static DbContextOptionsBuilder UseDsql(this DbContextOptionsBuilder optionsBuilder, string connectionString, Action<DsqlDbContextOptionsBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var dataSource = DataSources.GetOrAdd(connectionString, static cs => new Lazy<DsqlDataSource>(() => new DsqlDataSourceBuilder(cs).Build())).Value;
        return optionsBuilder.UseDsql(dataSource, configure);
    }

    /// <summary>Uses <paramref name="dataSource"/> (its pool, tokens, TLS and connect pacing) for the context's connections.</summary>
    /// <param name="optionsBuilder">The context's options.</param>
    /// <param name="dataSource">The data source; the caller owns it (the context never disposes it).</param>
    /// <param name="configure">DSQL-specific options, and Npgsql's provider options through <see cref="DsqlDbContextOptionsBuilder.Npgsql"/>.</param>
    public static DbContextOptionsBuilder UseDsql(this DbContextOptionsBuilder optionsBuilder, DsqlDataSource dataSource, Action<DsqlDbContextOptionsBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        ArgumentNullException.ThrowIfNull(dataSource);
        var dsql = new DsqlDbContextOptionsBuilder(optionsBuilder);
        configure?.Invoke(dsql);
        optionsBuilder.UseNpgsql(dataSource, npgsql =>
        {
            dsql.ApplyTo(npgsql);
        });
        var extension = (optionsBuilder.Options.FindExtension<DsqlOptionsExtension>() ?? new DsqlOptionsExtension()).WithDataSource(dataSource).WithOptions(dsql.Options);
        ((IDbContextOptionsBuilderInfrastructure)optionsBuilder).AddOrUpdateExtension(extension);
        return optionsBuilder;
    }

    /// <inheritdoc cref="UseDsql(DbContextOptionsBuilder, string, Action{DsqlDbContextOptionsBuilder}?)"/>
    public static DbContextOptionsBuilder<TContext> UseDsql<TContext>(this DbContextOptionsBuilder<TContext> optionsBuilder, string connectionString, Action<DsqlDbContextOptionsBuilder>? configure = null)
        where TContext : DbContext
        => (DbContextOptionsBuilder<TContext>)UseDsql((DbContextOptionsBuilder)optionsBuilder, connectionString, configure);

    /// <inheritdoc cref="UseDsql(DbContextOptionsBuilder, DsqlDataSource, Action{DsqlDbContextOptionsBuilder}?)"/>
    public static DbContextOptionsBuilder<TContext> UseDsql<TContext>(this DbContextOptionsBuilder<TContext> optionsBuilder, DsqlDataSource dataSource, Action<DsqlDbContextOptionsBuilder>? configure = null)
        where TContext : DbContext
        => (DbContextOptionsBuilder<TContext>)UseDsql((DbContextOptionsBuilder)optionsBuilder, dataSource, configure);
}
