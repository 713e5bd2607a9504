using Amazon.Runtime;
using Dsql.Connector;
using Dsql.EntityFrameworkCore.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Dsql.EntityFrameworkCore.Tests;

/// <summary>AddDsqlDbContext() and UseDsql(IServiceProvider): contexts on the data source AddDsql() registered.</summary>
[Collection(BackendCollection.Name)]
public sealed class DependencyInjectionTests(BackendFixture backend, RuntimeEmulator emulator) : IClassFixture<RuntimeEmulator>
{
    [Fact]
    public async Task AddDsqlDbContext_uses_the_data_source_AddDsql_registered()
    {
        await using var harness = await emulator.StartAsync(backend);
        var services = Services(harness);
        services.AddDsql(harness.Connector.ConnectionString());
        services.AddDsqlDbContext<ShopContext>(o => o.Retries(r => r.MaxRetries = 3));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });

        await using (var scope = provider.CreateAsyncScope())
        {
            var context = scope.ServiceProvider.GetRequiredService<ShopContext>();
            Assert.Same(provider.GetRequiredService<DsqlDataSource>(), DataSourceOf(context));
            context.Counters.Add(new Counter { Id = 1, Value = 3 });
            await context.SaveChangesAsync();
        }
        await using (var scope = provider.CreateAsyncScope())
            Assert.Equal(3, await scope.ServiceProvider.GetRequiredService<ShopContext>().Counters.SumAsync(c => c.Value));
    }

    [Fact]
    public async Task A_keyed_data_source_is_chosen_by_its_key()
    {
        await using var harness = await emulator.StartAsync(backend);
        var services = Services(harness);
        services.AddKeyedDsql("orders", harness.Connector.ConnectionString());
        services.AddDsqlDbContext<ShopContext>(dataSourceKey: "orders");
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();

        var context = scope.ServiceProvider.GetRequiredService<ShopContext>();

        Assert.Same(provider.GetRequiredKeyedService<DsqlDataSource>("orders"), DataSourceOf(context));
        Assert.Equal(0, await context.Counters.CountAsync());
    }

    [Fact]
    public async Task A_pooled_context_factory_uses_UseDsql_with_the_service_provider()
    {
        await using var harness = await emulator.StartAsync(backend);
        var services = Services(harness);
        services.AddDsql(harness.Connector.ConnectionString());
        services.AddPooledDbContextFactory<PooledContext>((provider, options) => options.UseDsql(provider));
        await using var provider = services.BuildServiceProvider();

        await using var context = await provider.GetRequiredService<IDbContextFactory<PooledContext>>().CreateDbContextAsync();

        Assert.Same(provider.GetRequiredService<DsqlDataSource>(), context.GetService<IDbContextOptions>().FindExtension<DsqlOptionsExtension>()!.DataSource);
        Assert.Equal(42, await context.Database.SqlQueryRaw<int>("SELECT 42 AS \"Value\"").SingleAsync());
    }

    [Fact]
    public void Without_AddDsql_the_context_says_what_to_register()
    {
        var services = new ServiceCollection();
        services.AddSingleton(new RuntimeSchema("s"));
        services.AddDsqlDbContext<ShopContext>();
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();

        var ex = Assert.Throws<InvalidOperationException>(() => scope.ServiceProvider.GetRequiredService<ShopContext>().Model);

        Assert.Contains("AddDsql", ex.Message, StringComparison.Ordinal);
    }

    private static ServiceCollection Services(RuntimeHarness harness)
    {
        var services = new ServiceCollection();
        services.AddSingleton<AWSCredentials>(new BasicAWSCredentials(TestTokens.AccessKeyId, TestTokens.Secret));
        services.AddSingleton<TimeProvider>(harness.Connector.Emulator.Clock);
        services.AddSingleton(new RuntimeSchema(harness.Schema));
        return services;
    }

    private static DsqlDataSource? DataSourceOf(DbContext context)
        => context.GetService<IDbContextOptions>().FindExtension<DsqlOptionsExtension>()?.DataSource;

    public sealed class PooledContext(DbContextOptions<PooledContext> options) : DbContext(options);
}
