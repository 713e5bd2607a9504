using System.Data.Common;
using Dsql.Connector;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;

namespace Dsql.EntityFrameworkCore.Storage;

/// <summary>
/// An EF Core transaction on DSQL: no savepoints (DSQL refuses SAVEPOINT, so EF's automatic savepoints are off and an
/// explicit savepoint call fails before anything is sent), and a COMMIT whose connection fails while it is in flight
/// reported as <see cref="DsqlAmbiguousCommitException"/> (the transaction may have been committed).
/// </summary>
internal sealed class DsqlRelationalTransaction(
    IRelationalConnection connection,
    DbTransaction transaction,
    Guid transactionId,
    IDiagnosticsLogger<DbLoggerCategory.Database.Transaction> logger,
    bool transactionOwned,
    ISqlGenerationHelper sqlGenerationHelper)
    : RelationalTransaction(connection, transaction, transactionId, logger, transactionOwned, sqlGenerationHelper)
{
    internal const string SavepointsRefused =
        "Aurora DSQL does not support savepoints (SAVEPOINT, ROLLBACK TO SAVEPOINT, RELEASE SAVEPOINT); nothing was sent " +
        "to the server. Roll the whole transaction back and run it again instead, for example inside " +
        "Database.CreateExecutionStrategy().ExecuteAsync(...), which reruns the unit of work.";

    /// <summary>COMMIT was handed to Npgsql: from then on the server may have committed, whatever becomes of the connection.</summary>
    public bool CommitSent { get; private set; }

    private DsqlRelationalConnection? Dsql => Connection as DsqlRelationalConnection;

    /// <summary>False: EF Core then creates no savepoint before SaveChanges inside a user transaction.</summary>
    public override bool SupportsSavepoints => false;

    public override void Commit()
    {
        CommitSent = true;
        try
        {
            base.Commit();
        }
        catch (Exception ex) when (IsAmbiguous(ex))
        {
            throw new DsqlAmbiguousCommitException(ex);
        }
    }

    public override async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        CommitSent = true;
        try
        {
            await base.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsAmbiguous(ex) && !cancellationToken.IsCancellationRequested)
        {
            throw new DsqlAmbiguousCommitException(ex);
        }
    }

    public override void Rollback()
    {
        NoteIfLost();
        base.Rollback();
    }

    public override Task RollbackAsync(CancellationToken cancellationToken = default)
    {
        NoteIfLost();
        return base.RollbackAsync(cancellationToken);
    }

    public override void Dispose()
    {
        NoteIfLost();
        base.Dispose();
    }

    public override ValueTask DisposeAsync()
    {
        NoteIfLost();
        return base.DisposeAsync();
    }

    public override void CreateSavepoint(string name) => throw new NotSupportedException(SavepointsRefused);

    public override Task CreateSavepointAsync(string name, CancellationToken cancellationToken = default) => throw new NotSupportedException(SavepointsRefused);

    public override void RollbackToSavepoint(string name) => throw new NotSupportedException(SavepointsRefused);

    public override Task RollbackToSavepointAsync(string name, CancellationToken cancellationToken = default) => throw new NotSupportedException(SavepointsRefused);

    public override void ReleaseSavepoint(string name) => throw new NotSupportedException(SavepointsRefused);

    public override Task ReleaseSavepointAsync(string name, CancellationToken cancellationToken = default) => throw new NotSupportedException(SavepointsRefused);

    /// <summary>
    /// The connection failed with COMMIT in flight. Npgsql's precondition checks (a connection already broken) throw
    /// <see cref="InvalidOperationException"/> or <see cref="ObjectDisposedException"/> before writing anything: then
    /// COMMIT was not sent and the failure is a loss before COMMIT, not an ambiguous commit.
    /// </summary>
    private bool IsAmbiguous(Exception ex)
    {
        if (Dsql is not { IsLost: true } connection) return false;
        if (ex is InvalidOperationException or ObjectDisposedException)
        {
            CommitSent = false;
            connection.NoteLostBeforeCommit();
            return false;
        }
        return true;
    }

    private void NoteIfLost()
    {
        if (!CommitSent && Dsql is { IsLost: true } connection) connection.NoteLostBeforeCommit();
    }
}
