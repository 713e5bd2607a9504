using System.Data.Common;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// The migrations lock DSQL allows (it has neither <c>LOCK TABLE</c> nor advisory locks): one lease row, taken with a
/// conditional UPDATE (or the first INSERT) in a REPEATABLE READ transaction. DSQL's optimistic concurrency lets only
/// one of two processes that race for the row commit. The lease expires after its duration unless renewed (before
/// every migration step), so a process killed while holding it blocks others only until then.
/// </summary>
internal sealed class DsqlMigrationLease
{
    private readonly DbConnection _connection;
    private readonly string _table;
    private readonly TimeSpan _duration;
    private readonly string _holder = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    public DsqlMigrationLease(DbConnection connection, string delimitedTable, TimeSpan duration)
    {
        _connection = connection;
        _table = delimitedTable;
        _duration = duration;
    }

    public string Holder => _holder;

    public static string CreateTableSql(string delimitedTable, string primaryKeyName)
        => $"CREATE TABLE IF NOT EXISTS {delimitedTable} (lease_id integer NOT NULL, holder varchar(200) NOT NULL, expires_at timestamptz NOT NULL, CONSTRAINT \"{primaryKeyName}\" PRIMARY KEY (lease_id))";

    /// <summary>Waits until this process holds the lease.</summary>
    public async Task AcquireAsync(bool async, CancellationToken cancellationToken)
    {
        var pause = TimeSpan.FromMilliseconds(100);
        while (!await TryTakeAsync(async, cancellationToken).ConfigureAwait(false))
        {
            await DsqlAdo.PauseAsync(pause + TimeSpan.FromMilliseconds(Random.Shared.Next(50)), async, cancellationToken).ConfigureAwait(false);
            pause = TimeSpan.FromMilliseconds(Math.Min(pause.TotalMilliseconds * 2, 2000));
        }
    }

    /// <summary>Takes the lease if it is free, expired or already ours.</summary>
    public async Task<bool> TryTakeAsync(bool async, CancellationToken cancellationToken)
    {
        try
        {
            return await DsqlAdo.InTransactionAsync(_connection, async, async transaction =>
            {
                int taken = await DsqlAdo.ExecuteAsync(_connection, transaction,
                    $"UPDATE {_table} SET holder = @holder, expires_at = now() + @duration WHERE lease_id = 1 AND (expires_at < now() OR holder = @holder)",
                    async, cancellationToken, ("holder", _holder), ("duration", _duration)).ConfigureAwait(false);
                if (taken == 0)
                {
                    taken = await DsqlAdo.ExecuteAsync(_connection, transaction,
                        $"INSERT INTO {_table} (lease_id, holder, expires_at) SELECT 1, @holder, now() + @duration WHERE NOT EXISTS (SELECT 1 FROM {_table} WHERE lease_id = 1)",
                        async, cancellationToken, ("holder", _holder), ("duration", _duration)).ConfigureAwait(false);
                }

                return taken == 1;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation)
        {
            return false; // another process took it in the same instant
        }
    }

    /// <summary>
    /// Extends the lease inside <paramref name="transaction"/> (the transaction that records a step, so that a step is
    /// recorded only by the lease's holder); fails if another process took it over (ours expired).
    /// </summary>
    public async Task RenewAsync(DbTransaction transaction, bool async, CancellationToken cancellationToken)
    {
        int renewed = await DsqlAdo.ExecuteAsync(_connection, transaction,
            $"UPDATE {_table} SET expires_at = now() + @duration WHERE lease_id = 1 AND holder = @holder",
            async, cancellationToken, ("holder", _holder), ("duration", _duration)).ConfigureAwait(false);
        if (renewed != 1)
        {
            throw new InvalidOperationException($"The migrations lease expired and another process took it over (lease {_duration}); this process stops migrating. Raise UseDsql(o => o.MigrationLease(...)) above the longest migration step.");
        }
    }

    /// <summary>Gives the lease up. Best effort: if the connection is gone, the lease expires on its own.</summary>
    public async Task ReleaseAsync(bool async, CancellationToken cancellationToken)
    {
        try
        {
            await DsqlAdo.InTransactionAsync(_connection, async, transaction => DsqlAdo.ExecuteAsync(_connection, transaction,
                $"DELETE FROM {_table} WHERE lease_id = 1 AND holder = @holder", async, cancellationToken, ("holder", _holder)), cancellationToken).ConfigureAwait(false);
        }
        catch (DbException)
        {
            // Keep the error that ended the migration; the lease expires after its duration.
        }
    }
}
