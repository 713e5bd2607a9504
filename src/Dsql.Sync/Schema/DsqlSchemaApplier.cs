using System.Data.Common;

namespace Dsql.Sync.Schema;

/// <summary>Runs DDL steps on DSQL: each statement alone (its own transaction), waiting for each asynchronous job.</summary>
public static partial class DsqlSchemaApplier
{
    /// <summary>
    /// Runs the steps of <paramref name="phase"/> in order on <paramref name="connection"/> (open, not in a transaction).
    /// An async step returns a job id; the applier then runs <c>CALL sys.wait_for_job(id)</c> and fails if the job failed.
    /// </summary>
    /// <exception cref="SchemaMappingException">The mapping has refusals.</exception>
    /// <exception cref="SchemaApplyException">A statement or a job failed; the message names the step.</exception>
    public static async Task ApplyAsync(DbConnection connection, SchemaMapping mapping, DdlPhase phase, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(mapping);
        mapping.ThrowIfRefused();
        foreach (var step in mapping.StepsOf(phase))
        {
            await ApplyStepAsync(connection, step, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs one step (and waits for its job when it is asynchronous).</summary>
    /// <exception cref="SchemaApplyException">The statement or its job failed.</exception>
    public static async Task ApplyStepAsync(DbConnection connection, DdlStep step, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(step);
        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = step.Sql;
            if (!step.IsAsyncJob)
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            string jobId = Convert.ToString(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture)
                ?? throw new SchemaApplyException(step, "it returned no job id", null);
            await using var wait = connection.CreateCommand();
            wait.CommandText = "CALL sys.wait_for_job('" + jobId.Replace("'", "''", StringComparison.Ordinal) + "')";
            object? succeeded = await wait.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (succeeded is false)
            {
                throw new SchemaApplyException(step, $"job {jobId} failed (see sys.jobs)", null);
            }
        }
        catch (DbException e)
        {
            throw new SchemaApplyException(step, e.Message, e);
        }
    }
}

/// <summary>A DDL step failed on DSQL.</summary>
public sealed class SchemaApplyException : Exception
{
    /// <summary>Creates the exception for <paramref name="step"/>.</summary>
    public SchemaApplyException(DdlStep step, string reason, Exception? inner)
        : base($"DDL step \"{step?.Description}\" failed: {reason}\n{step?.Sql}", inner)
    {
        Step = step!;
    }

    /// <summary>The step that failed.</summary>
    public DdlStep Step { get; }
}
