using Dsql.EntityFrameworkCore.Metadata;
using Dsql.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

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
        // Transactions and execution strategy: see Storage/ (added by the runtime work).
        // Migrations, history repository and lock, database creator, model validation: see Migrations/ and Metadata/.
        services.Replace(ServiceDescriptor.Scoped<IMigrationsSqlGenerator, DsqlMigrationsSqlGenerator>());
        services.Replace(ServiceDescriptor.Scoped<IMigrationCommandExecutor, DsqlMigrationCommandExecutor>());
        services.Replace(ServiceDescriptor.Scoped<IHistoryRepository, DsqlHistoryRepository>());
        services.Replace(ServiceDescriptor.Scoped<IMigrator, DsqlMigrator>());
        services.Replace(ServiceDescriptor.Scoped<IRelationalDatabaseCreator, DsqlDatabaseCreator>());
        services.Replace(ServiceDescriptor.Singleton<IModelValidator, DsqlModelValidator>());
        services.AddScoped<IConventionSetPlugin, DsqlConventionSetPlugin>();
    }
}
