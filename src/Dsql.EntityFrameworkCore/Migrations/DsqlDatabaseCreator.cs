using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql.EntityFrameworkCore.PostgreSQL.Storage.Internal;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// <c>EnsureCreated()</c> / <c>EnsureDeleted()</c> on DSQL. A cluster has one database (<c>postgres</c>), which always
/// exists and can be neither created nor dropped, so "the database" here is the model's tables: EnsureCreated creates
/// them (one statement per transaction, through <see cref="DsqlMigrationCommandExecutor"/>) when none of them exists,
/// and EnsureDeleted drops them (and the migrations history, journal and lease tables).
/// </summary>
internal sealed class DsqlDatabaseCreator(
    RelationalDatabaseCreatorDependencies dependencies,
    INpgsqlRelationalConnection connection,
    IRawSqlCommandBuilder rawSqlCommandBuilder)
    : NpgsqlDatabaseCreator(dependencies, connection, rawSqlCommandBuilder)
{
    private IRawSqlCommandBuilder Commands => Dependencies.CurrentContext.Context.GetService<IRawSqlCommandBuilder>();

    public override bool Exists() => true;

    public override Task<bool> ExistsAsync(CancellationToken cancellationToken = default) => Task.FromResult(true);

    public override void Create() => throw CannotCreate();

    public override Task CreateAsync(CancellationToken cancellationToken = default) => throw CannotCreate();

    public override bool HasTables() => CountModelTables(async: false, default).GetAwaiter().GetResult() > 0;

    public override async Task<bool> HasTablesAsync(CancellationToken cancellationToken = default)
        => await CountModelTables(async: true, cancellationToken).ConfigureAwait(false) > 0;

    public override void Delete() => DropTables(async: false, default).GetAwaiter().GetResult();

    public override Task DeleteAsync(CancellationToken cancellationToken = default) => DropTables(async: true, cancellationToken);

    private static NotSupportedException CannotCreate()
        => new("A DSQL cluster has one database, postgres, which always exists and cannot be created or dropped: EnsureCreated() creates the model's tables in it.");

    private IEnumerable<(string? Schema, string Name)> ModelTables()
        => Dependencies.CurrentContext.Context.GetService<IDesignTimeModel>().Model.GetRelationalModel().Tables.Select(t => (t.Schema, t.Name));

    private async Task<int> CountModelTables(bool async, CancellationToken cancellationToken)
    {
        var wanted = ModelTables().ToList();
        if (wanted.Count == 0)
        {
            return 0;
        }

        bool opened = async ? await Dependencies.Connection.OpenAsync(cancellationToken).ConfigureAwait(false) : Dependencies.Connection.Open();
        try
        {
            var rows = await DsqlAdo.QueryAsync(Dependencies.Connection.DbConnection, null,
                "SELECT table_schema, table_name, current_schema() FROM information_schema.tables WHERE table_type = 'BASE TABLE'", async, cancellationToken).ConfigureAwait(false);
            var present = rows.Select(r => ((string)r[0]!, (string)r[1]!)).ToHashSet();
            string current = rows.Count > 0 ? (string)rows[0][2]! : "public";
            return wanted.Count(t => present.Contains((t.Schema ?? current, t.Name)));
        }
        finally
        {
            if (opened)
            {
                if (async)
                {
                    await Dependencies.Connection.CloseAsync().ConfigureAwait(false);
                }
                else
                {
                    Dependencies.Connection.Close();
                }
            }
        }
    }

    private async Task DropTables(bool async, CancellationToken cancellationToken)
    {
        var helper = Dependencies.SqlGenerationHelper;
        var model = Dependencies.CurrentContext.Context.GetService<IDesignTimeModel>().Model;

        // The differ orders the drops so that a table goes before the tables it references.
        var drops = Dependencies.ModelDiffer.GetDifferences(model.GetRelationalModel(), null).OfType<DropTableOperation>()
            .Select(d => $"DROP TABLE IF EXISTS {helper.DelimitIdentifier(d.Name, d.Schema)}").ToList();
        // Resolved here: the history repository depends on the database creator.
        if (Dependencies.CurrentContext.Context.GetService<IHistoryRepository>() is DsqlHistoryRepository dsql)
        {
            drops.Add($"DROP TABLE IF EXISTS {dsql.HistoryTable}");
            drops.Add($"DROP TABLE IF EXISTS {dsql.StepsTable}");
            drops.Add($"DROP TABLE IF EXISTS {dsql.LeaseTable}");
        }

        var commands = drops.Select(sql => new MigrationCommand(Commands.Build(sql), Dependencies.CurrentContext.Context, Dependencies.CommandLogger)).ToList();
        if (async)
        {
            await Dependencies.MigrationCommandExecutor.ExecuteNonQueryAsync(commands, Dependencies.Connection, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            Dependencies.MigrationCommandExecutor.ExecuteNonQuery(commands, Dependencies.Connection);
        }
    }
}
