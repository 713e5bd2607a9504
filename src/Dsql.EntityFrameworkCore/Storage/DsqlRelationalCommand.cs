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
    // binds its DbCommand to the connection before it opens it, so a closed connection over several regional
    // endpoints is replaced before the base call (never inside the open: BeginCommand), and a call whose open failed
    // for a Region reason runs again on a new connection (nothing was sent). Over one endpoint, none of that applies.
    public override int ExecuteNonQuery(RelationalCommandParameterObject parameterObject)
        => Routed(parameterObject) is { } connection
            ? RunRouted(connection, parameterObject, p => base.ExecuteNonQuery(p))
            : Advised(() => base.ExecuteNonQuery(parameterObject));

    public override Task<int> ExecuteNonQueryAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => Routed(parameterObject) is { } connection
            ? RunRoutedAsync(connection, parameterObject, (p, token) => base.ExecuteNonQueryAsync(p, token), cancellationToken)
            : AdvisedAsync(base.ExecuteNonQueryAsync(parameterObject, cancellationToken));

    public override object? ExecuteScalar(RelationalCommandParameterObject parameterObject)
        => Routed(parameterObject) is { } connection
            ? RunRouted(connection, parameterObject, p => base.ExecuteScalar(p))
            : Advised(() => base.ExecuteScalar(parameterObject));

    public override Task<object?> ExecuteScalarAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => Routed(parameterObject) is { } connection
            ? RunRoutedAsync(connection, parameterObject, (p, token) => base.ExecuteScalarAsync(p, token), cancellationToken)
            : AdvisedAsync(base.ExecuteScalarAsync(parameterObject, cancellationToken));

    public override RelationalDataReader ExecuteReader(RelationalCommandParameterObject parameterObject)
        => Routed(parameterObject) is { } connection
            ? RunRouted(connection, parameterObject, p => base.ExecuteReader(p))
            : Advised(() => base.ExecuteReader(parameterObject));

    public override Task<RelationalDataReader> ExecuteReaderAsync(RelationalCommandParameterObject parameterObject, CancellationToken cancellationToken = default)
        => Routed(parameterObject) is { } connection
            ? RunRoutedAsync(connection, parameterObject, (p, token) => base.ExecuteReaderAsync(p, token), cancellationToken)
            : AdvisedAsync(base.ExecuteReaderAsync(parameterObject, cancellationToken));

    /// <summary>The connection, when the command will open a closed connection of EF's own over several endpoints.</summary>
    private static DsqlRelationalConnection? Routed(RelationalCommandParameterObject parameterObject)
        => parameterObject.Connection is DsqlRelationalConnection connection && connection.BeginCommand() ? connection : null;

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

    private static T RunRouted<T>(DsqlRelationalConnection connection, RelationalCommandParameterObject parameterObject, Func<RelationalCommandParameterObject, T> run)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (attempt > 1 && !connection.BeginCommand()) return Advised(() => run(parameterObject));
            try
            {
                return run(parameterObject);
            }
            catch (Exception) when (connection.OpenFailedForRegion(attempt))
            {
                // The open failed for a Region reason (seen in the filter, acted on here, after EF's own cleanup):
                // run again, on a connection to another endpoint.
                if (!connection.FailOverAfterOpenFailure()) throw;
            }
            catch (PostgresException ex) when (Advised(ex) is { } advised)
            {
                throw advised;
            }
            finally
            {
                connection.EndCommand();
            }
        }
    }

    private static async Task<T> RunRoutedAsync<T>(DsqlRelationalConnection connection, RelationalCommandParameterObject parameterObject,
        Func<RelationalCommandParameterObject, CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (attempt > 1 && !connection.BeginCommand()) return await AdvisedAsync(run(parameterObject, cancellationToken)).ConfigureAwait(false);
            try
            {
                return await run(parameterObject, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested && connection.OpenFailedForRegion(attempt))
            {
                if (!connection.FailOverAfterOpenFailure()) throw;
            }
            catch (PostgresException ex) when (Advised(ex) is { } advised)
            {
                throw advised;
            }
            finally
            {
                connection.EndCommand();
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
