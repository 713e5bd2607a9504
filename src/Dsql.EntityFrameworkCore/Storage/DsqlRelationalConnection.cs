using System.Data;
using System.Data.Common;
using Dsql.Connector;
using Dsql.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Storage.Internal;

namespace Dsql.EntityFrameworkCore.Storage;

/// <summary>
/// EF Core's connection on a <see cref="DsqlDataSource"/>: opens through the connector's open policy (connect
/// retries of throttled and transient failures, the bound on the whole open, a fresh token after a refused one), begins
/// every transaction at REPEATABLE READ, and remembers a transaction whose connection was lost before COMMIT was sent
/// (the execution strategy runs such a unit of work again).
/// </summary>
internal sealed class DsqlRelationalConnection : NpgsqlRelationalConnection
{
    private readonly DsqlDataSource? _dataSource;
    private bool _lostBeforeCommit;

    public DsqlRelationalConnection(RelationalConnectionDependencies dependencies, NpgsqlDataSourceManager dataSourceManager, IDbContextOptions options)
        : base(dependencies, dataSourceManager, options)
        => _dataSource = options.FindExtension<DsqlOptionsExtension>()?.DataSource;

    /// <summary>The data source, while EF still uses it (a connection set by the application replaces it).</summary>
    private DsqlDataSource? OwnDataSource => ReferenceEquals(DataSource, _dataSource) ? _dataSource : null;

    protected override void OpenDbConnection(bool errorsExpected)
    {
        if (OwnDataSource is { } dataSource && DbConnection is { } connection)
        {
            // The synchronous open of the connector (async: false): it completes synchronously, no blocking on a task.
            var open = dataSource.OpenExisting(connection, async: false, CancellationToken.None);
            System.Diagnostics.Debug.Assert(open.IsCompleted, "a synchronous open completed synchronously");
            open.GetAwaiter().GetResult();
            return;
        }
        base.OpenDbConnection(errorsExpected);
    }

    protected override Task OpenDbConnectionAsync(bool errorsExpected, CancellationToken cancellationToken)
    {
        if (OwnDataSource is not { } dataSource || DbConnection is not { } connection) return base.OpenDbConnectionAsync(errorsExpected, cancellationToken);
        var open = dataSource.OpenExisting(connection, async: true, cancellationToken);
        // A pooled rent usually completes at once: no task to allocate then (reading the result releases the ValueTask).
        if (!open.IsCompletedSuccessfully) return open.AsTask();
        _ = open.Result;
        return Task.CompletedTask;
    }

    protected override DbTransaction ConnectionBeginTransaction(IsolationLevel isolationLevel)
        => base.ConnectionBeginTransaction(DsqlIsolationLevels.Resolve(isolationLevel));

    protected override ValueTask<DbTransaction> ConnectionBeginTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken = default)
        => base.ConnectionBeginTransactionAsync(DsqlIsolationLevels.Resolve(isolationLevel), cancellationToken);

    /// <summary>The physical connection is gone (Npgsql marks it broken before it throws for a network failure or a FATAL error).</summary>
    internal bool IsLost => DbConnection.State != ConnectionState.Open;

    /// <summary>A transaction ended on a lost connection before its COMMIT was sent: the server rolled it back.</summary>
    internal void NoteLostBeforeCommit() => _lostBeforeCommit = true;

    /// <summary>
    /// Whether a transaction of this connection lost its connection before COMMIT since the last call (and forgets it):
    /// recorded when the transaction ended, or seen on the transaction still open.
    /// </summary>
    internal bool TakeLostBeforeCommit()
    {
        bool lost = _lostBeforeCommit || (CurrentTransaction is DsqlRelationalTransaction { CommitSent: false } && IsLost);
        _lostBeforeCommit = false;
        return lost;
    }
}
