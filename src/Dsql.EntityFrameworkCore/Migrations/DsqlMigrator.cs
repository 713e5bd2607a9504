using System.Globalization;
using Dsql.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Diagnostics.Internal;
using Microsoft.EntityFrameworkCore.Migrations.Internal;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Migrations.Internal;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// <c>Migrate()</c> on DSQL: every generated command is a step run on its own (its own transaction, never mixed with
/// DML), recorded in a journal table (<c>__EFMigrationsHistory_steps</c>) as soon as it has run; the history row is
/// written (or deleted, going down) with the journal's cleanup in one DML transaction when the migration's last step
/// is done. An interrupted migration resumes after its last recorded step; the one step that may have committed without
/// its record is tolerated when rerunning it finds its effect already there (the object exists, or is already gone).
/// A lease row (<see cref="DsqlMigrationLease"/>) keeps two processes from migrating at the same time.
/// </summary>
internal sealed class DsqlMigrator : NpgsqlMigrator
{
    private const int Started = -1;

    private static readonly HashSet<string> AlreadyDoneStates =
    [
        PostgresErrorCodes.DuplicateTable, PostgresErrorCodes.DuplicateColumn, PostgresErrorCodes.DuplicateObject,
        PostgresErrorCodes.DuplicateSchema, PostgresErrorCodes.UndefinedTable, PostgresErrorCodes.UndefinedColumn,
        PostgresErrorCodes.UndefinedObject,
    ];

    private readonly IHistoryRepository _history;
    private readonly IRelationalConnection _connection;
    private readonly IRawSqlCommandBuilder _commands;
    private readonly ICurrentDbContext _context;
    private readonly IDiagnosticsLogger<DbLoggerCategory.Migrations> _logger;
    private readonly IRelationalCommandDiagnosticsLogger _commandLogger;
    private readonly DsqlEfOptions _options;
    private readonly IDbContextOptions _contextOptions;
    private readonly IMigrationsAssembly _migrationsAssembly;

    public DsqlMigrator(
        IMigrationsAssembly migrationsAssembly,
        IHistoryRepository historyRepository,
        IDatabaseCreator databaseCreator,
        IMigrationsSqlGenerator migrationsSqlGenerator,
        IRawSqlCommandBuilder rawSqlCommandBuilder,
        IMigrationCommandExecutor migrationCommandExecutor,
        IRelationalConnection connection,
        ISqlGenerationHelper sqlGenerationHelper,
        ICurrentDbContext currentContext,
        IModelRuntimeInitializer modelRuntimeInitializer,
        IDiagnosticsLogger<DbLoggerCategory.Migrations> logger,
        IRelationalCommandDiagnosticsLogger commandLogger,
        IDatabaseProvider databaseProvider,
        IMigrationsModelDiffer migrationsModelDiffer,
        IDesignTimeModel designTimeModel,
        IDbContextOptions contextOptions,
        IExecutionStrategy executionStrategy)
        : base(migrationsAssembly, historyRepository, databaseCreator, migrationsSqlGenerator, rawSqlCommandBuilder,
            migrationCommandExecutor, connection, sqlGenerationHelper, currentContext, modelRuntimeInitializer, logger,
            commandLogger, databaseProvider, migrationsModelDiffer, designTimeModel, contextOptions, executionStrategy)
    {
        _history = historyRepository;
        _connection = connection;
        _commands = rawSqlCommandBuilder;
        _context = currentContext;
        _logger = logger;
        _commandLogger = commandLogger;
        _options = contextOptions.FindExtension<DsqlOptionsExtension>()?.Options ?? new DsqlEfOptions();
        _contextOptions = contextOptions;
        _migrationsAssembly = migrationsAssembly;
    }

    /// <summary>
    /// A script without transactions (DSQL runs one DDL statement per transaction), for psql: an asynchronous job's id is
    /// kept with <c>\gset</c> and waited for with <c>CALL sys.wait_for_job(:'job_id')</c>.
    /// </summary>
    public override string GenerateScript(string? fromMigration = null, string? toMigration = null, MigrationsSqlGenerationOptions options = MigrationsSqlGenerationOptions.Default)
        => base.GenerateScript(fromMigration, toMigration, options | MigrationsSqlGenerationOptions.NoTransactions);

    public override void Migrate(string? targetMigration)
        => MigrateCore(targetMigration, async: false, default).GetAwaiter().GetResult();

    public override Task MigrateAsync(string? targetMigration, CancellationToken cancellationToken = default)
        => MigrateCore(targetMigration, async: true, cancellationToken);

    private async Task MigrateCore(string? targetMigration, bool async, CancellationToken cancellationToken)
    {
        if (_connection.CurrentTransaction is not null)
        {
            throw new InvalidOperationException("DSQL runs each migration step in a transaction of its own: Migrate() cannot run inside a transaction the application began.");
        }

        if (_history is not DsqlHistoryRepository history)
        {
            throw new InvalidOperationException("UseDsql() registers its own history repository; another IHistoryRepository replaced it.");
        }

        // As EF's migrator: no migrations, no snapshot, or a model changed since the last migration (an error by default).
        if (_migrationsAssembly.Migrations.Count == 0)
        {
            _logger.MigrationsNotFound(this, _migrationsAssembly);
        }
        else if (_migrationsAssembly.ModelSnapshot is null)
        {
            _logger.ModelSnapshotNotFound(this, _migrationsAssembly);
        }
        else if (targetMigration is null
                 && RelationalResources.LogPendingModelChanges(_logger).WarningBehavior != WarningBehavior.Ignore
                 && HasPendingModelChanges())
        {
            _logger.PendingModelChangesWarning(_context.Context.GetType());
        }

        _logger.MigrateUsingConnection(this, _connection);
        if (async)
        {
            await _connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            _connection.Open();
        }

        bool anyOperation = false;
        try
        {
            var db = _connection.DbConnection;
            await DsqlAdo.CreateIfMissingAsync(db, history.GetCreateIfNotExistsScript(), async, cancellationToken).ConfigureAwait(false);
            await DsqlAdo.CreateIfMissingAsync(db,
                $"CREATE TABLE IF NOT EXISTS {history.StepsTable} (migration_id varchar(150) NOT NULL, direction varchar(4) NOT NULL, step integer NOT NULL, applied_at timestamptz NOT NULL, CONSTRAINT \"PK_{history.StepsTableName}\" PRIMARY KEY (migration_id, direction, step))",
                async, cancellationToken).ConfigureAwait(false);
            await DsqlAdo.CreateIfMissingAsync(db, DsqlMigrationLease.CreateTableSql(history.LeaseTable, "PK_" + history.LeaseTableName), async, cancellationToken).ConfigureAwait(false);

            _logger.AcquiringMigrationLock();
            var lease = new DsqlMigrationLease(db, history.LeaseTable, _options.MigrationLease);
            await lease.AcquireAsync(async, cancellationToken).ConfigureAwait(false);
            try
            {
                anyOperation = await ApplyAsync(history, lease, targetMigration, async, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await lease.ReleaseAsync(async, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            if (async)
            {
                await _connection.CloseAsync().ConfigureAwait(false);
            }
            else
            {
                _connection.Close();
            }
        }

        // UseSeeding()/UseAsyncSeeding(), as EF's migrator calls them, after the lease is released.
        var core = _contextOptions.FindExtension<CoreOptionsExtension>();
        if (async && core?.AsyncSeeder is { } asyncSeeder)
        {
            await asyncSeeder(_context.Context, anyOperation, cancellationToken).ConfigureAwait(false);
        }
        else if (core?.Seeder is { } seeder)
        {
            seeder(_context.Context, anyOperation);
        }
    }

    private async Task<bool> ApplyAsync(DsqlHistoryRepository history, DsqlMigrationLease lease, string? targetMigration, bool async, CancellationToken cancellationToken)
    {
        var db = _connection.DbConnection;
        var applied = async ? await history.GetAppliedMigrationsAsync(cancellationToken).ConfigureAwait(false) : history.GetAppliedMigrations();
        PopulateMigrations(applied.Select(r => r.MigrationId), targetMigration, out var data);

        var plan = new List<(Migration Migration, bool Up, Migration? Previous)>();
        for (int i = 0; i < data.RevertedMigrations.Count; i++)
        {
            plan.Add((data.RevertedMigrations[i], false, i + 1 < data.RevertedMigrations.Count ? data.RevertedMigrations[i + 1] : data.TargetMigration));
        }

        plan.AddRange(data.AppliedMigrations.Select(m => (m, true, (Migration?)null)));

        // The journal: steps recorded for migrations not finished.
        var journal = (await DsqlAdo.QueryAsync(db, null, $"SELECT migration_id, direction, step FROM {history.StepsTable}", async, cancellationToken).ConfigureAwait(false))
            .Select(r => (Id: (string)r[0]!, Up: (string)r[1]! == "up", Step: Convert.ToInt32(r[2], CultureInfo.InvariantCulture)))
            .ToList();
        foreach (var group in journal.GroupBy(j => (j.Id, j.Up)))
        {
            bool first = plan.Count > 0 && plan[0].Migration.GetId() == group.Key.Id && plan[0].Up == group.Key.Up;
            if (!first)
            {
                int done = group.Count(g => g.Step != Started);
                throw new InvalidOperationException(
                    $"Migration '{group.Key.Id}' was interrupted while being {(group.Key.Up ? "applied" : "reverted")} ({done} step(s) done); " +
                    $"finish it first: migrate to {(group.Key.Up ? "it (or later)" : "the migration before it (or earlier)")}, then to the target you want.");
            }
        }

        if (plan.Count == 0)
        {
            _logger.MigrationsNotApplied(this);
            return false;
        }

        foreach (var (migration, up, previous) in plan)
        {
            string id = migration.GetId();
            if (up)
            {
                _logger.MigrationApplying(this, migration);
            }
            else
            {
                _logger.MigrationReverting(this, migration);
            }

            // The generated commands without EF's last one (the history row), which is written below with the journal's cleanup.
            var generated = up ? GenerateUpSql(migration) : GenerateDownSql(migration, previous);
            var steps = generated.Take(generated.Count - 1).ToList();
            var done = journal.Where(j => j.Id == id && j.Up == up).Select(j => j.Step).ToHashSet();
            bool resuming = done.Contains(Started);
            string direction = up ? "up" : "down";
            if (!resuming)
            {
                await RecordAsync(history, lease, id, direction, Started, async, cancellationToken).ConfigureAwait(false);
            }

            bool firstPending = true;
            for (int step = 0; step < steps.Count; step++)
            {
                if (done.Contains(step))
                {
                    continue;
                }

                try
                {
                    await DsqlDdlRunner.RunAsync(_commands, _connection, _context, _commandLogger, steps[step].CommandText, async, cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException e) when (resuming && firstPending && AlreadyDoneStates.Contains(e.SqlState))
                {
                    // The interrupted run committed this step but not its record: its effect is there. If it was an
                    // asynchronous job, the interrupted run may not have waited for it.
                    if (DsqlDdlRunner.IsAsyncJob(steps[step].CommandText))
                    {
                        await DsqlDdlRunner.WaitForUnfinishedJobsAsync(_commands, _connection, _context, _commandLogger, async, cancellationToken).ConfigureAwait(false);
                    }
                }

                firstPending = false;
                await RecordAsync(history, lease, id, direction, step, async, cancellationToken).ConfigureAwait(false);
            }

            await DsqlAdo.InTransactionAsync(db, async, async transaction =>
            {
                await lease.RenewAsync(transaction, async, cancellationToken).ConfigureAwait(false);
                if (up)
                {
                    await DsqlAdo.ExecuteAsync(db, transaction, $"INSERT INTO {history.HistoryTable} ({history.MigrationIdColumn}, {history.ProductVersionColumn}) VALUES (@id, @version)",
                        async, cancellationToken, ("id", id), ("version", ProductInfo.GetVersion())).ConfigureAwait(false);
                }
                else
                {
                    await DsqlAdo.ExecuteAsync(db, transaction, $"DELETE FROM {history.HistoryTable} WHERE {history.MigrationIdColumn} = @id", async, cancellationToken, ("id", id)).ConfigureAwait(false);
                }

                return await DsqlAdo.ExecuteAsync(db, transaction, $"DELETE FROM {history.StepsTable} WHERE migration_id = @id", async, cancellationToken, ("id", id)).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Records a step as done and renews the lease, in one DML transaction (only the lease's holder records).</summary>
    private Task<int> RecordAsync(DsqlHistoryRepository history, DsqlMigrationLease lease, string id, string direction, int step, bool async, CancellationToken cancellationToken)
    {
        var db = _connection.DbConnection;
        return DsqlAdo.InTransactionAsync(db, async, async transaction =>
        {
            await lease.RenewAsync(transaction, async, cancellationToken).ConfigureAwait(false);
            return await DsqlAdo.ExecuteAsync(db, transaction,
                $"INSERT INTO {history.StepsTable} (migration_id, direction, step, applied_at) VALUES (@id, @direction, @step, now())",
                async, cancellationToken, ("id", id), ("direction", direction), ("step", step)).ConfigureAwait(false);
        }, cancellationToken);
    }
}
