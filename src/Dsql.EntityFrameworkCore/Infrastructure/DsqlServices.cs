using Dsql.EntityFrameworkCore.Metadata;
using Dsql.EntityFrameworkCore.Migrations;
using Dsql.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Update;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql.EntityFrameworkCore.PostgreSQL.Storage.Internal;

namespace Dsql.EntityFrameworkCore.Infrastructure;

/// <summary>
/// The provider services DSQL replaces, in one place. Each area adds its replacements here with
/// <c>ServiceCollectionDescriptorExtensions.Replace</c> (Npgsql's services are registered before these run).
/// </summary>
internal static class DsqlServices
{
    public static void Add(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Transactions and execution strategy (Storage/): the connection opens through the connector and begins
        // REPEATABLE READ transactions; transactions refuse savepoints and report an interrupted COMMIT; an autocommit
        // SaveChanges batch whose connection fails reports an ambiguous commit; the default strategy retries the unit of work.
        ReplaceService<INpgsqlRelationalConnection, DsqlRelationalConnection>(services);
        ReplaceService<IRelationalTransactionFactory, DsqlRelationalTransactionFactory>(services);
        ReplaceService<IModificationCommandBatchFactory, DsqlModificationCommandBatchFactory>(services);
        ReplaceService<IExecutionStrategyFactory, DsqlExecutionStrategyFactory>(services);
        // Commands raise DSQL's quota and unsupported-feature errors as the connector's typed exceptions.
        ReplaceService<IRelationalCommandBuilderFactory, DsqlRelationalCommandBuilderFactory>(services);
        // Migrations, history repository and lock, database creator, model validation: see Migrations/ and Metadata/.
        ReplaceService<IMigrationsSqlGenerator, DsqlMigrationsSqlGenerator>(services);
        ReplaceService<IMigrationCommandExecutor, DsqlMigrationCommandExecutor>(services);
        ReplaceService<IHistoryRepository, DsqlHistoryRepository>(services);
        ReplaceService<IMigrator, DsqlMigrator>(services);
        ReplaceService<IRelationalDatabaseCreator, DsqlDatabaseCreator>(services);
        ReplaceService<IModelValidator, DsqlModelValidator>(services);
        services.AddScoped<IConventionSetPlugin, DsqlConventionSetPlugin>();
    }

    /// <summary>Replaces the registration of <typeparamref name="TService"/>, keeping the lifetime EF Core gave it.</summary>
    private static void ReplaceService<TService, TImplementation>(IServiceCollection services)
        where TService : class
        where TImplementation : class, TService
    {
        var lifetime = services.LastOrDefault(d => d.ServiceType == typeof(TService))?.Lifetime ?? ServiceLifetime.Scoped;
        services.Replace(new ServiceDescriptor(typeof(TService), typeof(TImplementation), lifetime));
    }
}
