using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;
using Npgsql.EntityFrameworkCore.PostgreSQL.Storage.Internal.Mapping;

namespace Dsql.EntityFrameworkCore.Metadata;

/// <summary>
/// Npgsql's model validation plus DSQL's: every column's store type must be on DSQL's allow-list (no arrays, so no
/// primitive collections mapped as PostgreSQL arrays; no PostgreSQL enums; no xml, inet, money, ...), identity columns
/// must be bigint, and there are no serial or HiLo columns. A violation is a <see cref="DsqlModelNotSupportedException"/>
/// naming the entity type, the property and the choices, thrown when the model is built.
/// </summary>
internal sealed class DsqlModelValidator(ModelValidatorDependencies dependencies, RelationalModelValidatorDependencies relationalDependencies, INpgsqlSingletonOptions npgsqlOptions)
    : NpgsqlModelValidator(dependencies, relationalDependencies, npgsqlOptions)
{
    public override void Validate(IModel model, IDiagnosticsLogger<DbLoggerCategory.Model.Validation> logger)
    {
        foreach (var entityType in model.GetEntityTypes())
        {
            if (entityType.GetTableName() is null || entityType.IsMappedToJson())
            {
                continue; // no table, or its properties live inside a jsonb column
            }

            ValidateType(entityType, entityType);
        }

        base.Validate(model, logger);
    }

    private static void ValidateType(IEntityType entityType, ITypeBase type)
    {
        foreach (var property in type.GetDeclaredProperties())
        {
            ValidateProperty(entityType, property);
        }

        foreach (var complex in type.GetDeclaredComplexProperties())
        {
            if (complex.ComplexType.GetContainerColumnName() is null)
            {
                ValidateType(entityType, complex.ComplexType); // table-split complex type: its properties are columns
            }
        }
    }

    private static void ValidateProperty(IEntityType entityType, IProperty property)
    {
        string owner = property.DeclaringType == entityType ? "" : property.DeclaringType.DisplayName() + ".";
        string where = $"Entity type '{entityType.DisplayName()}' property '{owner}{property.Name}' ({property.ClrType.ShortDisplayName()})";
        var mapping = property.FindRelationalTypeMapping();
        string storeType = property.GetColumnType() ?? mapping?.StoreType ?? string.Empty;
        if (mapping is NpgsqlEnumTypeMapping)
        {
            throw new DsqlModelNotSupportedException(
                $"{where} maps to the PostgreSQL enum type {storeType}, and DSQL has no enum types (CREATE TYPE). Choices: drop MapEnum()/HasPostgresEnum() to store the enum as integer (Npgsql's default), or store its name as text with HasConversion<string>().");
        }

        if (property.IsPrimitiveCollection || mapping is NpgsqlArrayTypeMapping || storeType.EndsWith(']'))
        {
            throw new DsqlModelNotSupportedException(
                $"{where} maps to the array column type {storeType}, and DSQL has no array columns. Choices: store the values as JSON (HasConversion to a JSON string with HasColumnType(\"jsonb\")), make them an owned collection mapped with ToJson(), or give them an entity type (a table) of their own.");
        }

        if (DsqlStoreTypes.Refusal(storeType) is { } why)
        {
            throw new DsqlModelNotSupportedException($"{where}: DSQL does not support {why}.");
        }

        var strategy = property.GetValueGenerationStrategy();
        if (strategy is NpgsqlValueGenerationStrategy.SerialColumn or NpgsqlValueGenerationStrategy.SequenceHiLo)
        {
            throw new DsqlModelNotSupportedException(
                $"{where} uses {strategy}, which needs serial types or sequences DSQL does not give. Choices: UseIdentityByDefaultColumn() on a long property, or a Guid key (its default is gen_random_uuid()).");
        }

        if (strategy is NpgsqlValueGenerationStrategy.IdentityByDefaultColumn or NpgsqlValueGenerationStrategy.IdentityAlwaysColumn
            && !DsqlStoreTypes.IsBigint(storeType))
        {
            throw new DsqlModelNotSupportedException(
                $"{where} is an identity column of type {storeType}, and DSQL identity columns must be bigint. Choices: make the property a long, make the key a Guid (its default is gen_random_uuid()), or turn value generation off (ValueGeneratedNever()).");
        }
    }
}
