using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;

namespace Dsql.EntityFrameworkCore.Metadata;

/// <summary>
/// Gives generated <see cref="Guid"/> primary keys the column default <c>gen_random_uuid()</c>, so that rows inserted
/// without EF (scripts, other services) get a key too. A default the model sets itself is kept.
/// </summary>
internal sealed class DsqlGuidKeyConvention : IModelFinalizingConvention
{
    public void ProcessModelFinalizing(IConventionModelBuilder modelBuilder, IConventionContext<IConventionModelBuilder> context)
    {
        foreach (var entityType in modelBuilder.Metadata.GetEntityTypes())
        {
            if (entityType.FindPrimaryKey() is not { } key || entityType.GetTableName() is null || entityType.IsMappedToJson())
            {
                continue;
            }

            foreach (var property in key.Properties)
            {
                if (property.ClrType == typeof(Guid) && property.ValueGenerated == ValueGenerated.OnAdd && property.DeclaringType == entityType
                    && property.GetDefaultValueSql() is null && property.FindAnnotation(RelationalAnnotationNames.DefaultValue) is null && !property.GetContainingForeignKeys().Any())
                {
                    property.Builder.HasDefaultValueSql("gen_random_uuid()");
                }
            }
        }
    }
}

/// <summary>Adds DSQL's conventions to the provider's.</summary>
internal sealed class DsqlConventionSetPlugin : IConventionSetPlugin
{
    public ConventionSet ModifyConventions(ConventionSet conventionSet)
    {
        conventionSet.ModelFinalizingConventions.Add(new DsqlGuidKeyConvention());
        return conventionSet;
    }
}
