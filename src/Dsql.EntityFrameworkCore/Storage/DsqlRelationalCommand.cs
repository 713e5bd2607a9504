using Dsql.Connector;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Storage;

/// <summary>
/// EF Core's command, with DSQL's advice on its errors: a server error for one of DSQL's quotas or for a feature DSQL
/// lacks is raised as the connector's <see cref="DsqlLimitExceededException"/> or
/// <see cref="DsqlUnsupportedFeatureException"/> (the server's error inside). EF Core then wraps it as it wraps
/// provider errors (SaveChanges: the inner exception of <c>DbUpdateException</c>; queries and raw SQL: thrown as is).
/// Conflicts (40001) and every other error pass unchanged.
/// </summary>
internal sealed class DsqlRelationalCommand(RelationalCommandBuilderDependencies dependencies, string commandText, string logCommandText, IReadOnlyList<IRelationalParameter> parameters)
    : RelationalCommand(dependencies, commandText, logCommandText, parameters)
{
    public override int ExecuteNonQuery(RelationalCommandParameterObject parameterObject)
    {
        try
        {
            return base.ExecuteNonQuery(parameterObject);
        }
        catch (PostgresException ex) when (Advised(ex) is { } advised)
        {
            throw advised;
        }
    }

    public override async Task<int> ExecuteNonQueryAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.ExecuteNonQueryAsync(parameterObject, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Advised(ex) is { } advised)
        {
            throw advised;
        }
    }

    public override object? ExecuteScalar(RelationalCommandParameterObject parameterObject)
    {
        try
        {
            return base.ExecuteScalar(parameterObject);
        }
        catch (PostgresException ex) when (Advised(ex) is { } advised)
        {
            throw advised;
        }
    }

    public override async Task<object?> ExecuteScalarAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.ExecuteScalarAsync(parameterObject, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Advised(ex) is { } advised)
        {
            throw advised;
        }
    }

    public override RelationalDataReader ExecuteReader(RelationalCommandParameterObject parameterObject)
    {
        try
        {
            return base.ExecuteReader(parameterObject);
        }
        catch (PostgresException ex) when (Advised(ex) is { } advised)
        {
            throw advised;
        }
    }

    public override async Task<RelationalDataReader> ExecuteReaderAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
    {
        try
        {
            return await base.ExecuteReaderAsync(parameterObject, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (Advised(ex) is { } advised)
        {
            throw advised;
        }
    }

    /// <summary>The connector's typed exception for <paramref name="exception"/>, or null when DSQL has no advice for it.</summary>
    private static Exception? Advised(PostgresException exception)
    {
        var translated = DsqlErrors.Translate(exception);
        return ReferenceEquals(translated, exception) ? null : translated;
    }
}

/// <summary>Builds <see cref="DsqlRelationalCommand"/>s.</summary>
internal sealed class DsqlRelationalCommandBuilder(RelationalCommandBuilderDependencies dependencies) : RelationalCommandBuilder(dependencies)
{
    public override IRelationalCommand Build()
    {
        var command = (RelationalCommand)base.Build();
        return new DsqlRelationalCommand(Dependencies, command.CommandText, command.LogCommandText, command.Parameters);
    }
}

/// <summary>Creates <see cref="DsqlRelationalCommandBuilder"/>s in place of EF Core's.</summary>
internal sealed class DsqlRelationalCommandBuilderFactory(RelationalCommandBuilderDependencies dependencies) : RelationalCommandBuilderFactory(dependencies)
{
    public override IRelationalCommandBuilder Create() => new DsqlRelationalCommandBuilder(Dependencies);
}
