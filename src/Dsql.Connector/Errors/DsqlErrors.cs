using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Helpers to recognise Aurora DSQL's errors: optimistic-concurrency conflicts to retry, and quota or
/// unsupported-feature errors turned into exceptions that say what to do.
/// </summary>
/// <remarks>
/// Code that uses Npgsql directly gets the same translation in one call from
/// <see cref="DsqlExceptionExtensions.ToDsqlException"/> / <see cref="DsqlExceptionExtensions.TryGetDsqlException"/>.
/// </remarks>
public static class DsqlErrors
{
    /// <summary>SQLSTATE of a serialization failure: DSQL's optimistic-concurrency conflicts OC000 and OC001.</summary>
    internal const string SerializationFailure = "40001";

    // Exception chains are short; this bounds the walk should a chain ever loop back on itself.
    private const int MaxDepth = 64;

    /// <summary>
    /// Whether <paramref name="exception"/> is an optimistic-concurrency conflict that a new attempt of the whole
    /// transaction may get past: a <see cref="PostgresException"/> with SQLSTATE <c>40001</c> (DSQL's OC000 and
    /// OC001), itself or anywhere in its chain of inner exceptions (including every exception inside an
    /// <see cref="AggregateException"/>).
    /// </summary>
    /// <param name="exception">The exception to inspect; <see langword="null"/> gives <see langword="false"/>.</param>
    /// <returns>
    /// <see langword="true"/> for a conflict; always <see langword="false"/> when the chain holds a
    /// <see cref="DsqlAmbiguousCommitException"/> (the transaction may have been committed) or a
    /// <see cref="DsqlTransactionConflictException"/> (the retries are already spent).
    /// </returns>
    public static bool IsConflict(Exception exception)
    {
        var found = false;
        var veto = false;
        Walk(exception, e =>
        {
            switch (e)
            {
                case DsqlAmbiguousCommitException or DsqlTransactionConflictException:
                    veto = true;
                    return WalkStep.Stop;
                case PostgresException { SqlState: SerializationFailure }:
                    found = true;
                    break;
            }

            return WalkStep.Continue;
        });
        return found && !veto;
    }

    /// <summary>
    /// The first <see cref="PostgresException"/> found in <paramref name="exception"/> or its chain of inner
    /// exceptions (including every exception inside an <see cref="AggregateException"/>).
    /// </summary>
    /// <param name="exception">The exception to inspect; <see langword="null"/> gives <see langword="null"/>.</param>
    /// <returns>The server's error, or <see langword="null"/> when the chain holds none.</returns>
    public static PostgresException? FindPostgresException(Exception exception)
    {
        PostgresException? result = null;
        Walk(exception, e =>
        {
            if (e is PostgresException postgres)
            {
                result = postgres;
                return WalkStep.Stop;
            }

            return WalkStep.Continue;
        });
        return result;
    }

    /// <summary>
    /// Turns a server error that DSQL raises for one of its quotas into a <see cref="DsqlLimitExceededException"/>
    /// and one for an unsupported PostgreSQL feature into a <see cref="DsqlUnsupportedFeatureException"/>; both
    /// keep the server's error as their inner exception. Any other exception is returned as it is.
    /// </summary>
    /// <param name="exception">
    /// The exception to translate. Only a <see cref="PostgresException"/> itself is translated: an exception that
    /// wraps one is returned unchanged, as are exceptions this library already raised.
    /// </param>
    /// <returns>The typed exception, or <paramref name="exception"/> itself. Never throws for a non-null argument.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is <see langword="null"/>.</exception>
    public static Exception Translate(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is not PostgresException postgres)
        {
            return exception;
        }

        try
        {
            if (IsUnsupported(postgres))
            {
                return new DsqlUnsupportedFeatureException(postgres);
            }

            return ClassifyLimit(postgres.SqlState, postgres.MessageText) is { } limit
                ? new DsqlLimitExceededException(limit, postgres)
                : exception;
        }
        catch (Exception)
        {
            // Translation only adds advice; it must never hide the server's error behind a failure of its own.
            return exception;
        }
    }

    // ---------------------------------------------------------------- open failures
    // The open path calls UnwrapOpenFailure on what a failed open threw, and throws the result in its place.

    /// <summary>
    /// Whether DSQL answered <c>XX000 server unavailable</c>, as it does during a Region impairment: retry the whole
    /// transaction (on another Region's endpoint if there is one); a COMMIT answered so has an unknown outcome.
    /// </summary>
    public static bool IsServerUnavailable(Exception exception)
        => FindPostgresException(exception) is { SqlState: "XX000" } postgres
           && postgres.MessageText.Contains("server unavailable", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// What a failed open should report: the <see cref="DsqlCredentialsException"/> when no token could be signed
    /// (Npgsql wraps whatever a password provider throws in an <see cref="NpgsqlException"/> reading "An exception
    /// was thrown from the password provider", which would bury the explanation), otherwise
    /// <paramref name="exception"/> itself.
    /// </summary>
    /// <remarks>
    /// Used by <see cref="DsqlDataSource"/>'s open path. Rethrow the result with
    /// <see cref="System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(Exception)"/> so that both cases keep
    /// their stack trace: <c>ExceptionDispatchInfo.Throw(DsqlErrors.UnwrapOpenFailure(ex));</c> in place of <c>throw;</c>.
    /// </remarks>
    /// <param name="exception">What the open threw.</param>
    /// <returns>The exception to report.</returns>
    internal static Exception UnwrapOpenFailure(Exception exception)
        => FindPasswordProviderFailure(exception) ?? exception;

    /// <summary>
    /// The credentials failure behind an <see cref="NpgsqlException"/> that Npgsql raised because the password
    /// provider threw: the wrapper is a plain <see cref="NpgsqlException"/> (not a server error), and the
    /// <see cref="DsqlCredentialsException"/> is its inner exception, or one level further down when the provider's
    /// own code wrapped it (an <see cref="AggregateException"/> from a blocking wait, for example).
    /// </summary>
    internal static DsqlCredentialsException? FindPasswordProviderFailure(Exception exception)
    {
        if (exception is DsqlCredentialsException direct)
        {
            return direct;
        }

        if (exception is not NpgsqlException || exception is PostgresException || exception.InnerException is not { } inner)
        {
            return null;
        }

        return inner switch
        {
            DsqlCredentialsException credentials => credentials,
            AggregateException { InnerExceptions: [DsqlCredentialsException credentials] } => credentials,
            _ => inner.InnerException as DsqlCredentialsException,
        };
    }

    internal static bool IsUnsupported(PostgresException postgres)
        => postgres.SqlState switch
        {
            "0A000" => true,
            "42704" => DsqlUnsupportedFeatureException.IsSerialTypeMessage(postgres.MessageText),
            _ => false,
        };

    /// <summary>Which DSQL quota a server error reports, or <see langword="null"/> when it reports none.</summary>
    internal static DsqlLimit? ClassifyLimit(string? sqlState, string? message)
    {
        var m = message ?? "";
        switch (sqlState)
        {
            case "53400":
                return DsqlLimit.ConnectionRate;
            case "53300":
                return DsqlLimit.OpenConnections;
            case "53200":
                return DsqlLimit.QueryMemory;
            case "54011":
                return Has(m, "index") ? DsqlLimit.ColumnsPerIndex : DsqlLimit.ColumnsPerTable;
            case "54000":
                if (Has(m, "age limit") || Has(m, "transaction age"))
                {
                    return DsqlLimit.TransactionAge;
                }

                if (Has(m, "row limit"))
                {
                    return DsqlLimit.RowsPerTransaction;
                }

                if (Has(m, "transaction size") || (Has(m, "transaction") && Has(m, "size limit")))
                {
                    return DsqlLimit.TransactionSize;
                }

                if (Has(m, "key size") || Has(m, "key too large") || Has(m, "index row size"))
                {
                    return DsqlLimit.KeySize;
                }

                if (Has(m, "column") && (Has(m, "size") || Has(m, "too large")))
                {
                    return DsqlLimit.ColumnSize;
                }

                if (Has(m, "row size") || Has(m, "row too large") || Has(m, "row is too big"))
                {
                    return DsqlLimit.RowSize;
                }

                return DsqlLimit.Other;
            default:
                return sqlState is { Length: 5 } && sqlState.StartsWith("54", StringComparison.Ordinal)
                    ? DsqlLimit.Other
                    : null;
        }
    }

    private static bool Has(string message, string value) => message.Contains(value, StringComparison.OrdinalIgnoreCase);

    private enum WalkStep
    {
        Continue,
        Stop,
    }

    /// <summary>Visits <paramref name="root"/> and its inner exceptions depth-first until a visit says stop.</summary>
    private static void Walk(Exception? root, Func<Exception, WalkStep> visit)
    {
        if (root is null)
        {
            return;
        }

        var seen = new HashSet<Exception>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(Exception Exception, int Depth)>();
        pending.Push((root, 0));
        while (pending.Count > 0)
        {
            var (current, depth) = pending.Pop();
            if (depth > MaxDepth || !seen.Add(current))
            {
                continue;
            }

            if (visit(current) == WalkStep.Stop)
            {
                return;
            }

            if (current is AggregateException aggregate)
            {
                // Pushed in reverse so that they are visited in order.
                for (var i = aggregate.InnerExceptions.Count - 1; i >= 0; i--)
                {
                    pending.Push((aggregate.InnerExceptions[i], depth + 1));
                }
            }
            else if (current.InnerException is { } inner)
            {
                pending.Push((inner, depth + 1));
            }
        }
    }
}
