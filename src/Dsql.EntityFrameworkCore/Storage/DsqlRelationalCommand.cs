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
    // Synchronous calls wrap the base call in a delegate; asynchronous ones await the base task in one helper.
    public override int ExecuteNonQuery(RelationalCommandParameterObject parameterObject)
        => Advised(() => base.ExecuteNonQuery(parameterObject));

    public override Task<int> ExecuteNonQueryAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => AdvisedAsync(base.ExecuteNonQueryAsync(parameterObject, cancellationToken));

    public override object? ExecuteScalar(RelationalCommandParameterObject parameterObject)
        => Advised(() => base.ExecuteScalar(parameterObject));

    public override Task<object?> ExecuteScalarAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => AdvisedAsync(base.ExecuteScalarAsync(parameterObject, cancellationToken));

    public override RelationalDataReader ExecuteReader(RelationalCommandParameterObject parameterObject)
        => Advised(() => base.ExecuteReader(parameterObject));

    public override Task<RelationalDataReader> ExecuteReaderAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => AdvisedAsync(base.ExecuteReaderAsync(parameterObject, cancellationToken));

    private static T Advised<T>(Func<T> run)
    {
        try
        {
            return run();
        }
        catch (PostgresException ex) when (Advised(ex) is { } advised)
        {
            throw advised;
        }
    }

    private static async Task<T> AdvisedAsync<T>(Task<T> running)
    {
        try
        {
            return await running.ConfigureAwait(false);
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
