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
    /// <summary>The connection EF made through the data source (not one the application set): only that one is replaced.</summary>
    private DbConnection? _created;
    /// <summary>The endpoint the last unit of work failed on for a Region reason (over several endpoints).</summary>
    private DsqlDataSource? _avoid;
    /// <summary>A command bound to the connection is opening it (<see cref="BeginCommand"/>): the open must not replace it.</summary>
    private bool _commandPending;
    /// <summary>The open of the pending command failed for a Region reason.</summary>
    private bool _openFailed;

    public DsqlRelationalConnection(RelationalConnectionDependencies dependencies, NpgsqlDataSourceManager dataSourceManager, IDbContextOptions options)
        : base(dependencies, dataSourceManager, options)
        => _dataSource = options.FindExtension<DsqlOptionsExtension>()?.DataSource;

    /// <summary>The data source, while EF still uses it (a connection set by the application replaces it).</summary>
    private DsqlDataSource? OwnDataSource => ReferenceEquals(DataSource, _dataSource) ? _dataSource : null;

    protected override DbConnection CreateDbConnection() => _created = base.CreateDbConnection();

    /// <summary>Over several endpoints, the endpoint EF's own connection belongs to; null otherwise.</summary>
    internal DsqlDataSource? Endpoint
        => OwnDataSource is { IsMultiRegion: true } dataSource && _created is NpgsqlConnection connection && ReferenceEquals(DbConnection, connection)
            ? dataSource.EndpointOf(connection)
            : null;

    /// <summary>
    /// Over several regional endpoints: a closed connection EF made for an endpoint that opens no longer go to (routing
    /// changed, or the unit of work before failed there) is replaced before it opens, and an open that fails for a
    /// Region reason is tried on the other endpoints, each with a new connection (a pooled context keeps its connection
    /// between leases, so this also moves it after a failover and back after failback). EF binds a command to the
    /// connection before it opens it: for a command (<see cref="BeginCommand"/>) the replacement happens before the
    /// command exists, and a failed open runs the command again (<see cref="DsqlRelationalCommand"/>).
    /// </summary>
    public override bool Open(bool errorsExpected = false)
    {
        if (!Routed(out var dataSource)) return base.Open(errorsExpected);
        if (_commandPending) return OpenForCommand(() => base.Open(errorsExpected));
        ReplaceIfStale(dataSource);
        for (int tried = 1; ; tried++)
        {
            try
            {
                bool opened = base.Open(errorsExpected);
                _avoid = null;
                return opened;
            }
            catch (Exception ex) when (tried < dataSource.Endpoints.Count && DsqlDataSource.IsRegionFailure(ex))
            {
                // (Replaced here, not in the filter: EF's own cleanup of the failed open has run by now.)
                if (!FailOver(dataSource)) throw;
            }
        }
    }

    public override Task<bool> OpenAsync(CancellationToken cancellationToken, bool errorsExpected = false)
    {
        if (!Routed(out var dataSource)) return base.OpenAsync(cancellationToken, errorsExpected);
        if (_commandPending) return OpenForCommandAsync(base.OpenAsync(cancellationToken, errorsExpected));
        ReplaceIfStale(dataSource);
        var open = base.OpenAsync(cancellationToken, errorsExpected);
        if (open.IsCompletedSuccessfully)
        {
            _avoid = null;
            return open;
        }
        return OpenWithFailoverAsync(dataSource, open, cancellationToken, errorsExpected);
    }

    private async Task<bool> OpenWithFailoverAsync(DsqlDataSource dataSource, Task<bool> open, CancellationToken cancellationToken, bool errorsExpected)
    {
        for (int tried = 1; ; tried++)
        {
            try
            {
                bool opened = await open.ConfigureAwait(false);
                _avoid = null;
                return opened;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && tried < dataSource.Endpoints.Count && DsqlDataSource.IsRegionFailure(ex))
            {
                if (!FailOver(dataSource)) throw;
            }
            open = base.OpenAsync(cancellationToken, errorsExpected);
        }
    }

    private bool OpenForCommand(Func<bool> open)
    {
        try
        {
            bool opened = open();
            _avoid = null;
            return opened;
        }
        catch (Exception ex) when (DsqlDataSource.IsRegionFailure(ex))
        {
            _openFailed = true;
            throw;
        }
    }

    private async Task<bool> OpenForCommandAsync(Task<bool> open)
    {
        try
        {
            bool opened = await open.ConfigureAwait(false);
            _avoid = null;
            return opened;
        }
        catch (Exception ex) when (DsqlDataSource.IsRegionFailure(ex))
        {
            _openFailed = true;
            throw;
        }
    }

    /// <summary>
    /// A command is about to run (EF will bind it to <see cref="RelationalConnection.DbConnection"/>, then open that):
    /// over several endpoints, a closed connection on an endpoint opens no longer go to is replaced now. True when the
    /// command runs on a closed connection of EF's own over several endpoints (call <see cref="EndCommand"/> after it).
    /// </summary>
    internal bool BeginCommand()
    {
        if (!Routed(out var dataSource)) return false;
        ReplaceIfStale(dataSource);
        _commandPending = true;
        _openFailed = false;
        return true;
    }

    internal void EndCommand() => _commandPending = false;

    /// <summary>Whether the command's open failed for a Region reason and attempt <paramref name="attempt"/> may be followed by another.</summary>
    internal bool OpenFailedForRegion(int attempt) => _openFailed && OwnDataSource is { } dataSource && attempt < dataSource.Endpoints.Count;

    /// <summary>After a command's open failed for a Region reason: a new connection away from that endpoint (false when it cannot be replaced).</summary>
    internal bool FailOverAfterOpenFailure()
    {
        _openFailed = false;
        return OwnDataSource is { } dataSource && FailOver(dataSource);
    }

    /// <summary>Whether this connection is EF's own on a data source over several endpoints (and not open).</summary>
    private bool Routed(out DsqlDataSource dataSource)
    {
        dataSource = OwnDataSource!;
        if (dataSource is not { IsMultiRegion: true }) return false;
        var current = DbConnection; // made now if EF has not made it yet (it is then _created)
        return ReferenceEquals(current, _created) && current.State != ConnectionState.Open;
    }

    private void ReplaceIfStale(DsqlDataSource dataSource)
    {
        if (dataSource.ShouldReplace((NpgsqlConnection)_created!, _avoid)) Replace(dataSource);
    }

    /// <summary>Makes a new connection away from <see cref="_avoid"/>; false when EF still counts the old one as open.</summary>
    private bool Replace(DsqlDataSource dataSource)
    {
        var replacement = dataSource.CreateConnection(_avoid);
        try
        {
            SetDbConnection(replacement, contextOwnsConnection: true); // disposes the one EF made before
        }
        catch (InvalidOperationException)
        {
            replacement.Dispose();
            return false;
        }
        _created = replacement;
        return true;
    }

    /// <summary>
    /// After an open failed for a Region reason (which the data source has counted against the endpoint's health
    /// already): makes a new connection away from that endpoint; false when this connection cannot be replaced.
    /// </summary>
    private bool FailOver(DsqlDataSource dataSource)
    {
        if (_created is not NpgsqlConnection connection || !ReferenceEquals(DbConnection, connection) || connection.State == ConnectionState.Open) return false;
        _avoid = dataSource.EndpointOf(connection);
        return Replace(dataSource);
    }

    /// <summary>
    /// A unit of work failed on this connection and will run again: when the failure was a Region failure, the next
    /// open goes to another endpoint (over several endpoints; reported to the data source's health).
    /// </summary>
    /// <returns>Whether the next open goes to another endpoint.</returns>
    internal bool NoteAttemptFailure(Exception exception)
    {
        if (OwnDataSource is not { IsMultiRegion: true } dataSource || _created is not NpgsqlConnection connection || !ReferenceEquals(DbConnection, connection)) return false;
        if (dataSource.EndpointOf(connection) is not { } endpoint || dataSource.ReportAttemptFailure(endpoint, exception) is null) return false;
        _avoid = endpoint;
        return true;
    }

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
