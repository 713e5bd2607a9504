using System.Data;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// Runs migration commands (EnsureCreated(), the history table, scripts given to EF) one statement per transaction,
/// never inside an explicit transaction, waiting for DSQL's asynchronous DDL jobs (see <see cref="DsqlDdlRunner"/>).
/// The resumable, locked path of <c>Migrate()</c> is <see cref="DsqlMigrator"/>, which uses the same runner.
/// </summary>
internal sealed class DsqlMigrationCommandExecutor(IRawSqlCommandBuilder commands, ICurrentDbContext context, IRelationalCommandDiagnosticsLogger logger) : IMigrationCommandExecutor
{
    public void ExecuteNonQuery(IEnumerable<MigrationCommand> migrationCommands, IRelationalConnection connection)
        => Run(migrationCommands, connection, null, async: false, default).GetAwaiter().GetResult();

    public int ExecuteNonQuery(IReadOnlyList<MigrationCommand> migrationCommands, IRelationalConnection connection, MigrationExecutionState executionState, bool commitTransaction, IsolationLevel? isolationLevel = null)
        => Run(migrationCommands, connection, executionState, async: false, default).GetAwaiter().GetResult();

    public Task ExecuteNonQueryAsync(IEnumerable<MigrationCommand> migrationCommands, IRelationalConnection connection, CancellationToken cancellationToken = default)
        => Run(migrationCommands, connection, null, async: true, cancellationToken);

    public Task<int> ExecuteNonQueryAsync(IReadOnlyList<MigrationCommand> migrationCommands, IRelationalConnection connection, MigrationExecutionState executionState, bool commitTransaction, IsolationLevel? isolationLevel = null, CancellationToken cancellationToken = default)
        => Run(migrationCommands, connection, executionState, async: true, cancellationToken);

    private async Task<int> Run(IEnumerable<MigrationCommand> migrationCommands, IRelationalConnection connection, MigrationExecutionState? state, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(migrationCommands);
        ArgumentNullException.ThrowIfNull(connection);
        int result = 0;
        bool opened = async ? await connection.OpenAsync(cancellationToken).ConfigureAwait(false) : connection.Open();
        try
        {
            foreach (var command in migrationCommands)
            {
                result += await DsqlDdlRunner.RunAsync(commands, connection, context, logger, command.CommandText, async, cancellationToken).ConfigureAwait(false);
                if (state is not null)
                {
                    state.AnyOperationPerformed = true;
                }
            }
        }
        finally
        {
            if (opened)
            {
                if (async)
                {
                    await connection.CloseAsync().ConfigureAwait(false);
                }
                else
                {
                    connection.Close();
                }
            }
        }

        return result;
    }
}
