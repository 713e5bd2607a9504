using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// A transaction attempt's connection was lost before COMMIT was sent, and the delegate handled the connection's
/// error itself and returned normally. Nothing was committed. Raised only when every attempt failed this way or the
/// retries ran out on it; a retry normally runs the transaction again on a fresh connection.
/// </summary>
internal sealed class DsqlConnectionLostException : NpgsqlException
{
    internal DsqlConnectionLostException()
        : base(
            "The connection was lost during the transaction, before COMMIT was sent; the delegate handled the " +
            "connection's error and returned, so nothing was committed. Let database errors propagate out of the delegate.")
    {
    }

    /// <summary>Always <see langword="true"/>: nothing was committed, so running the transaction again is safe.</summary>
    public override bool IsTransient => true;
}
