using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// The connection failed while COMMIT was in flight, so the transaction may or may not have been committed. The
/// connector does not retry it; the connection error is the inner exception.
/// </summary>
/// <remarks>
/// <see cref="DsqlErrors.IsConflict(Exception)"/> is <see langword="false"/> for this exception and for anything
/// it wraps: running the transaction again could apply its effects twice.
/// </remarks>
public sealed class DsqlAmbiguousCommitException : NpgsqlException
{
    internal DsqlAmbiguousCommitException(Exception inner)
        : base(
            "The connection failed while COMMIT was in flight, so the transaction may or may not have been committed; " +
            "it was not retried. Check whether its effects are present before running it again, or make it idempotent.",
            inner)
    {
    }

    /// <summary>
    /// Always <see langword="false"/>: the transaction may have been committed, so retrying it blindly is not safe
    /// even though the connection error itself is transient.
    /// </summary>
    public override bool IsTransient => false;
}
