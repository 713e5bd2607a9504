using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// Runs one generated migration command the way DSQL needs: alone, outside any explicit transaction (so it is its own
/// transaction), through EF's command pipeline (logging, interceptors). <c>CREATE INDEX ASYNC</c> and
/// <c>ALTER TABLE ASYNC</c> return a job id, which is waited for with <c>CALL sys.wait_for_job</c>; a job that did not
/// succeed fails the step. A batched backfill is repeated until it changes no row. A statement DSQL refused with an
/// optimistic-concurrency error (concurrent DDL, OC001) committed nothing and is tried again.
/// </summary>
internal static partial class DsqlDdlRunner
{
    private const int ConflictAttempts = 5;

    public static async Task<int> RunAsync(IRawSqlCommandBuilder commands, IRelationalConnection connection, ICurrentDbContext context, IRelationalCommandDiagnosticsLogger logger, string sql, bool async, CancellationToken cancellationToken)
    {
        if (connection.CurrentTransaction is not null)
        {
            throw new InvalidOperationException("DSQL runs each DDL statement in a transaction of its own: migrations and EnsureCreated()/EnsureDeleted() cannot run inside a transaction the application began. Commit or dispose it first.");
        }

        var parameters = new RelationalCommandParameterObject(connection, null, null, context.Context, logger, CommandSource.Migrations);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                if (AsyncJobStatement().IsMatch(sql))
                {
                    var command = commands.Build(sql);
                    object? jobId = async
                        ? await command.ExecuteScalarAsync(parameters, cancellationToken).ConfigureAwait(false)
                        : command.ExecuteScalar(parameters);
                    if (jobId is string id && id.Length > 0)
                    {
                        await WaitForJobAsync(commands, parameters, id, sql, async, cancellationToken).ConfigureAwait(false);
                    }

                    return 1;
                }

                if (sql.StartsWith(DsqlMigrationsSqlGenerator.RepeatMarker, StringComparison.Ordinal))
                {
                    int total = 0;
                    var command = commands.Build(sql);
                    while (true)
                    {
                        int changed = async
                            ? await command.ExecuteNonQueryAsync(parameters, cancellationToken).ConfigureAwait(false)
                            : command.ExecuteNonQuery(parameters);
                        if (changed <= 0)
                        {
                            return total;
                        }

                        total += changed;
                    }
                }

                var single = commands.Build(sql);
                return async
                    ? await single.ExecuteNonQueryAsync(parameters, cancellationToken).ConfigureAwait(false)
                    : single.ExecuteNonQuery(parameters);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.SerializationFailure && attempt < ConflictAttempts)
            {
                var delay = TimeSpan.FromMilliseconds(50 * (1 << attempt) + Random.Shared.Next(50));
                if (async)
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    Thread.Sleep(delay);
                }
            }
        }
    }

    private static async Task WaitForJobAsync(IRawSqlCommandBuilder commands, RelationalCommandParameterObject parameters, string jobId, string sql, bool async, CancellationToken cancellationToken)
    {
        if (!JobId().IsMatch(jobId))
        {
            throw new InvalidOperationException($"DSQL answered an asynchronous DDL statement with a job id that is not one ('{jobId}').");
        }

        var wait = commands.Build($"CALL sys.wait_for_job('{jobId}')");
        object? succeeded = async
            ? await wait.ExecuteScalarAsync(parameters, cancellationToken).ConfigureAwait(false)
            : wait.ExecuteScalar(parameters);
        if (succeeded is not false)
        {
            return;
        }

        var status = commands.Build($"SELECT status || coalesce(': ' || details, '') FROM sys.jobs WHERE job_id = '{jobId}'");
        object? why = async
            ? await status.ExecuteScalarAsync(parameters, cancellationToken).ConfigureAwait(false)
            : status.ExecuteScalar(parameters);
        throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
            $"DSQL job {jobId} did not succeed ({why ?? "no status"}) for: {sql.Trim()}"));
    }

    /// <summary>
    /// Waits for every DSQL job still submitted or processing. Used when a resumed asynchronous step turns out to have
    /// been submitted by the interrupted run (its index or constraint exists): that run's job id was never read, so
    /// every unfinished job is waited for instead.
    /// </summary>
    public static async Task WaitForUnfinishedJobsAsync(IRawSqlCommandBuilder commands, IRelationalConnection connection, ICurrentDbContext context, IRelationalCommandDiagnosticsLogger logger, bool async, CancellationToken cancellationToken)
    {
        var parameters = new RelationalCommandParameterObject(connection, null, null, context.Context, logger, CommandSource.Migrations);
        var rows = await DsqlAdo.QueryAsync(connection.DbConnection, null, "SELECT job_id FROM sys.jobs WHERE status IN ('submitted', 'processing')", async, cancellationToken).ConfigureAwait(false);
        foreach (var row in rows)
        {
            if (row[0] is string id && JobId().IsMatch(id))
            {
                var wait = commands.Build($"CALL sys.wait_for_job('{id}')");
                _ = async ? await wait.ExecuteScalarAsync(parameters, cancellationToken).ConfigureAwait(false) : wait.ExecuteScalar(parameters);
            }
        }
    }

    /// <summary>True for the statements DSQL runs as asynchronous jobs, which answer with a job id.</summary>
    internal static bool IsAsyncJob(string sql) => AsyncJobStatement().IsMatch(sql);

    [GeneratedRegex(@"^\s*(CREATE\s+(UNIQUE\s+)?INDEX\s+ASYNC\b|ALTER\s+TABLE\s+ASYNC\b)", RegexOptions.IgnoreCase)]
    private static partial Regex AsyncJobStatement();

    [GeneratedRegex("^[a-z0-9]{1,64}$")]
    private static partial Regex JobId();
}
