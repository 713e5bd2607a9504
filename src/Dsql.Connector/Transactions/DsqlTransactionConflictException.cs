using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// A transaction conflicted with concurrent transactions (SQLSTATE 40001, DSQL's OC000 or OC001) on every
/// attempt, and the connector gave up retrying it. Nothing was committed. The last conflict the server reported is
/// <see cref="LastConflict"/> and the inner exception.
/// </summary>
/// <remarks>
/// <see cref="DsqlErrors.IsConflict(Exception)"/> is <see langword="false"/> for this exception, so that an outer
/// retry loop does not multiply the retries already made.
/// </remarks>
public sealed class DsqlTransactionConflictException : NpgsqlException
{
    internal DsqlTransactionConflictException(int attempts, Exception lastConflict)
        : this(attempts, lastConflict, DsqlErrors.FindPostgresException(lastConflict))
    {
    }

    private DsqlTransactionConflictException(int attempts, Exception lastConflict, PostgresException? postgres)
        : base(
            $"The transaction conflicted with concurrent transactions on all {attempts} attempts (SQLSTATE 40001, " +
            $"{postgres?.MessageText ?? lastConflict.Message}). Retry later, reduce contention on the hot rows, or " +
            "raise DsqlTransactionOptions.MaxRetries.",
            (Exception?)postgres ?? lastConflict)
    {
        Attempts = attempts;
        LastConflict = postgres;
    }

    /// <summary>How many times the transaction was run, the first attempt included.</summary>
    public int Attempts { get; }

    /// <summary>
    /// The server's error on the last attempt, also the <see cref="Exception.InnerException"/>;
    /// <see langword="null"/> when the last conflict carried no server error.
    /// </summary>
    public PostgresException? LastConflict { get; }
}
