using Dsql.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Migrations.Internal;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// Npgsql's history table (<c>__EFMigrationsHistory</c>), with the lock DSQL allows (a lease row in
/// <c>__EFMigrationsHistory_lease</c> instead of <c>LOCK TABLE</c>) and the per-step journal of
/// <see cref="DsqlMigrator"/> (<c>__EFMigrationsHistory_steps</c>) beside it.
/// </summary>
internal sealed class DsqlHistoryRepository(HistoryRepositoryDependencies dependencies) : NpgsqlHistoryRepository(dependencies)
{
    public override LockReleaseBehavior LockReleaseBehavior => LockReleaseBehavior.Explicit;

    internal string HistoryTable => SqlGenerationHelper.DelimitIdentifier(TableName, TableSchema);

    internal string LeaseTableName => TableName + "_lease";

    internal string StepsTableName => TableName + "_steps";

    internal string LeaseTable => SqlGenerationHelper.DelimitIdentifier(LeaseTableName, TableSchema);

    internal string StepsTable => SqlGenerationHelper.DelimitIdentifier(StepsTableName, TableSchema);

    internal string MigrationIdColumn => SqlGenerationHelper.DelimitIdentifier(MigrationIdColumnName);

    internal string ProductVersionColumn => SqlGenerationHelper.DelimitIdentifier(ProductVersionColumnName);

    internal TimeSpan LeaseDuration
        => (Dependencies.CurrentContext.Context.GetService<IDbContextOptions>().FindExtension<DsqlOptionsExtension>()?.Options ?? new DsqlEfOptions()).MigrationLease;

    public override IMigrationsDatabaseLock AcquireDatabaseLock()
        => AcquireAsync(async: false, default).GetAwaiter().GetResult();

    public override Task<IMigrationsDatabaseLock> AcquireDatabaseLockAsync(CancellationToken cancellationToken = default)
        => AcquireAsync(async: true, cancellationToken);

    private async Task<IMigrationsDatabaseLock> AcquireAsync(bool async, CancellationToken cancellationToken)
    {
        Dependencies.MigrationsLogger.AcquiringMigrationLock();
        var connection = Dependencies.Connection.DbConnection;
        await DsqlAdo.CreateIfMissingAsync(connection, DsqlMigrationLease.CreateTableSql(LeaseTable, "PK_" + LeaseTableName), async, cancellationToken).ConfigureAwait(false);
        var lease = new DsqlMigrationLease(connection, LeaseTable, LeaseDuration);
        await lease.AcquireAsync(async, cancellationToken).ConfigureAwait(false);
        return new LeaseLock(this, lease);
    }

    public override string GetBeginIfNotExistsScript(string migrationId)
        => throw new DsqlMigrationNotSupportedException("DSQL does not support idempotent migration scripts (EF writes them as PL/pgSQL DO blocks, which DSQL lacks): run Migrate()/MigrateAsync() (resumable and safe to rerun), or generate a script without --idempotent");

    public override string GetBeginIfExistsScript(string migrationId) => GetBeginIfNotExistsScript(migrationId);

    private sealed class LeaseLock(IHistoryRepository repository, DsqlMigrationLease lease) : IMigrationsDatabaseLock
    {
        public IHistoryRepository HistoryRepository => repository;

        public void Dispose() => lease.ReleaseAsync(async: false, default).GetAwaiter().GetResult();

        public async ValueTask DisposeAsync() => await lease.ReleaseAsync(async: true, default).ConfigureAwait(false);
    }
}
