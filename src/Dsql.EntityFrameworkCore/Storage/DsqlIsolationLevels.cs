using System.Data;

namespace Dsql.EntityFrameworkCore.Storage;

/// <summary>
/// The isolation level of every transaction EF Core begins on DSQL. DSQL runs snapshot isolation only (PostgreSQL's
/// REPEATABLE READ); Npgsql begins a transaction with no level as READ COMMITTED, which DSQL refuses, so the level is
/// chosen here before anything is sent.
/// </summary>
internal static class DsqlIsolationLevels
{
    /// <summary>
    /// The level to send for <paramref name="requested"/>: REPEATABLE READ for no level
    /// (<see cref="IsolationLevel.Unspecified"/>), <see cref="IsolationLevel.RepeatableRead"/> and
    /// <see cref="IsolationLevel.Snapshot"/> (the same isolation on PostgreSQL).
    /// </summary>
    /// <exception cref="NotSupportedException">A level DSQL refuses; the message names it and the level to use.</exception>
    public static IsolationLevel Resolve(IsolationLevel requested) => requested switch
    {
        IsolationLevel.Unspecified or IsolationLevel.RepeatableRead or IsolationLevel.Snapshot => IsolationLevel.RepeatableRead,
        _ => throw new NotSupportedException(
            $"Aurora DSQL does not run transactions at IsolationLevel.{requested}: it runs every transaction with snapshot " +
            "isolation (REPEATABLE READ). Begin the transaction with no level (Database.BeginTransaction()) or with " +
            "IsolationLevel.RepeatableRead. Nothing was sent to the server."),
    };
}
