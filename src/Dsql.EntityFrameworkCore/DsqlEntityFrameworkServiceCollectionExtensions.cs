using Dsql.Connector;
using Dsql.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// <c>AddDsqlDbContext&lt;TContext&gt;()</c>: registers a context on the <see cref="DsqlDataSource"/> that
/// <c>AddDsql()</c> (package Dsql.Connector.DependencyInjection) registered, so that the context shares its pool,
/// tokens and settings.
/// </summary>
public static class DsqlEntityFrameworkServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TContext"/> with <c>AddDbContext</c>, on the <see cref="DsqlDataSource"/> registered
    /// by <c>AddDsql()</c> (or by <c>AddKeyedDsql(serviceKey, ...)</c> when <paramref name="dataSourceKey"/> is given).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">DSQL-specific options, and Npgsql's provider options through <see cref="DsqlDbContextOptionsBuilder.Npgsql"/>.</param>
    /// <param name="dataSourceKey">The key of a keyed data source; <see langword="null"/> for the unkeyed one.</param>
    /// <param name="contextLifetime">The context's lifetime (scoped by default, as <c>AddDbContext</c>).</param>
    /// <param name="optionsLifetime">The options' lifetime (scoped by default, as <c>AddDbContext</c>).</param>
    public static IServiceCollection AddDsqlDbContext<TContext>(this IServiceCollection services, Action<DsqlDbContextOptionsBuilder>? configure = null,
        object? dataSourceKey = null, ServiceLifetime contextLifetime = ServiceLifetime.Scoped, ServiceLifetime optionsLifetime = ServiceLifetime.Scoped)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddDbContext<TContext>((provider, options) => options.UseDsql(provider, configure, dataSourceKey), contextLifetime, optionsLifetime);
    }
}

/// <summary><c>UseDsql(IServiceProvider)</c>: for <c>AddDbContext</c>, <c>AddDbContextPool</c> and <c>AddDbContextFactory</c> callbacks that receive the service provider.</summary>
public static class DsqlServiceProviderDbContextOptionsBuilderExtensions
{
    /// <summary>
    /// Uses the <see cref="DsqlDataSource"/> registered in <paramref name="serviceProvider"/> by <c>AddDsql()</c> (or the
    /// keyed one registered by <c>AddKeyedDsql(serviceKey, ...)</c>), e.g.
    /// <c>services.AddDbContextPool&lt;Shop&gt;((sp, o) =&gt; o.UseDsql(sp));</c>.
    /// </summary>
    /// <param name="optionsBuilder">The context's options.</param>
    /// <param name="serviceProvider">The application's services.</param>
    /// <param name="configure">DSQL-specific options, and Npgsql's provider options through <see cref="DsqlDbContextOptionsBuilder.Npgsql"/>.</param>
    /// <param name="dataSourceKey">The key of a keyed data source; <see langword="null"/> for the unkeyed one.</param>
    /// <exception cref="InvalidOperationException">No data source is registered (call <c>AddDsql()</c>).</exception>
    public static DbContextOptionsBuilder UseDsql(this DbContextOptionsBuilder optionsBuilder, IServiceProvider serviceProvider,
        Action<DsqlDbContextOptionsBuilder>? configure = null, object? dataSourceKey = null)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        ArgumentNullException.ThrowIfNull(serviceProvider);
        var dataSource = dataSourceKey is null
            ? serviceProvider.GetService<DsqlDataSource>()
            : serviceProvider.GetKeyedService<DsqlDataSource>(dataSourceKey);
        if (dataSource is null)
        {
            throw new InvalidOperationException(dataSourceKey is null
                ? "No DsqlDataSource is registered: call services.AddDsql(...) (package Dsql.Connector.DependencyInjection) before resolving a context that uses UseDsql(serviceProvider)."
                : $"No DsqlDataSource is registered with the key '{dataSourceKey}': call services.AddKeyedDsql(\"{dataSourceKey}\", ...) (package Dsql.Connector.DependencyInjection).");
        }
        return optionsBuilder.UseDsql(dataSource, configure);
    }
}
