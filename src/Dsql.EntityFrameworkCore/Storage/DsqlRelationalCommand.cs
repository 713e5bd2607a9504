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
    // Synchronous calls wrap the base call in a delegate; asynchronous ones await the base task in one helper. EF
    // binds its DbCommand to the connection before it opens it, so a connection over several regional endpoints is
    // replaced before the base call (never inside the open), and an open that failed for a Region reason runs the
    // call again on a new connection: nothing was sent.
    public override int ExecuteNonQuery(RelationalCommandParameterObject parameterObject)
        => Advised(parameterObject, p => base.ExecuteNonQuery(p));

    public override Task<int> ExecuteNonQueryAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => AdvisedAsync(parameterObject, (p, token) => base.ExecuteNonQueryAsync(p, token), cancellationToken);

    public override object? ExecuteScalar(RelationalCommandParameterObject parameterObject)
        => Advised(parameterObject, p => base.ExecuteScalar(p));

    public override Task<object?> ExecuteScalarAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => AdvisedAsync(parameterObject, (p, token) => base.ExecuteScalarAsync(p, token), cancellationToken);

    public override RelationalDataReader ExecuteReader(RelationalCommandParameterObject parameterObject)
        => Advised(parameterObject, p => base.ExecuteReader(p));

    public override Task<RelationalDataReader> ExecuteReaderAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => AdvisedAsync(parameterObject, (p, token) => base.ExecuteReaderAsync(p, token), cancellationToken);

    private static T Advised<T>(RelationalCommandParameterObject parameterObject, Func<RelationalCommandParameterObject, T> run)
    {
        var connection = parameterObject.Connection as DsqlRelationalConnection;
        for (int attempt = 1; ; attempt++)
        {
            bool routed = connection?.BeginCommand() == true;
            try
            {
                return run(parameterObject);
            }
            catch (Exception) when (routed && connection!.OpenFailedForRegion(attempt))
            {
                // The open failed for a Region reason (checked in the filter, acted on here, after EF's own cleanup):
                // run again, on a connection to another endpoint.
                if (!connection.FailOverAfterOpenFailure()) throw;
            }
            catch (PostgresException ex) when (Advised(ex) is { } advised)
            {
                throw advised;
            }
            finally
            {
                if (routed) connection!.EndCommand();
            }
        }
    }

    private static async Task<T> AdvisedAsync<T>(RelationalCommandParameterObject parameterObject, Func<RelationalCommandParameterObject, CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        var connection = parameterObject.Connection as DsqlRelationalConnection;
        for (int attempt = 1; ; attempt++)
        {
            bool routed = connection?.BeginCommand() == true;
            try
            {
                return await run(parameterObject, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (routed && !cancellationToken.IsCancellationRequested && connection!.OpenFailedForRegion(attempt))
            {
                if (!connection.FailOverAfterOpenFailure()) throw;
            }
            catch (PostgresException ex) when (Advised(ex) is { } advised)
            {
                throw advised;
            }
            finally
            {
                if (routed) connection!.EndCommand();
            }
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
