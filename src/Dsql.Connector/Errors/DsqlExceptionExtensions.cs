using System.Diagnostics.CodeAnalysis;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// DSQL's advice for code that uses Npgsql directly (its own <see cref="NpgsqlDataSource"/>, or commands on a
/// connection from <see cref="DsqlDataSource"/>): one call turns an Npgsql error into the typed exception the
/// connector's own methods raise.
/// </summary>
/// <example>
/// Rethrow only the errors DSQL has advice for; every other error propagates untouched, stack trace included:
/// <code>
/// try
/// {
///     await command.ExecuteNonQueryAsync();
/// }
/// catch (NpgsqlException ex) when (ex.TryGetDsqlException(out var dsql))
/// {
///     throw dsql; // DsqlLimitExceededException, DsqlUnsupportedFeatureException or DsqlCredentialsException
/// }
/// </code>
/// Or, where any exception will do (a log line, a result object): <c>logger.LogError(ex.ToDsqlException(), "...")</c>.
/// </example>
public static class DsqlExceptionExtensions
{
    /// <summary>
    /// The exception DSQL's advice turns <paramref name="exception"/> into, or <paramref name="exception"/> itself:
    /// <list type="bullet">
    /// <item>a server error for one of DSQL's quotas: <see cref="DsqlLimitExceededException"/> (which limit, and what to do);</item>
    /// <item>a server error for a PostgreSQL feature DSQL lacks: <see cref="DsqlUnsupportedFeatureException"/> (what to do instead);</item>
    /// <item>Npgsql's "An exception was thrown from the password provider" hiding a credentials failure: the
    /// <see cref="DsqlCredentialsException"/> itself (where the credential chain looked, and the fix);</item>
    /// <item>anything else: unchanged.</item>
    /// </list>
    /// The translated exception keeps the original as its <see cref="Exception.InnerException"/> (the credentials
    /// failure keeps the AWS SDK's).
    /// </summary>
    /// <param name="exception">The error Npgsql raised.</param>
    /// <returns>The typed exception, or <paramref name="exception"/>. Never throws for a non-null argument.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is <see langword="null"/>.</exception>
    public static NpgsqlException ToDsqlException(this NpgsqlException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (DsqlErrors.FindPasswordProviderFailure(exception) is { } credentials)
        {
            return credentials;
        }

        return DsqlErrors.Translate(exception) as NpgsqlException ?? exception;
    }

    /// <summary>
    /// Whether DSQL has advice for <paramref name="exception"/>, and the typed exception that carries it (see
    /// <see cref="ToDsqlException"/>); made for an exception filter:
    /// <c>catch (NpgsqlException ex) when (ex.TryGetDsqlException(out var dsql)) { throw dsql; }</c>.
    /// </summary>
    /// <param name="exception">The error Npgsql raised.</param>
    /// <param name="dsqlException">The typed exception, when there is one; otherwise <see langword="null"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="dsqlException"/> differs from <paramref name="exception"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is <see langword="null"/>.</exception>
    public static bool TryGetDsqlException(this NpgsqlException exception, [NotNullWhen(true)] out NpgsqlException? dsqlException)
    {
        var translated = exception.ToDsqlException();
        dsqlException = ReferenceEquals(translated, exception) ? null : translated;
        return dsqlException is not null;
    }
}
