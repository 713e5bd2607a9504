using System.Data.Common;
using System.Globalization;
using Dsql.Connector;
using Npgsql;

namespace Dsql.Sync.Tool.Jobs;

/// <summary>The three kinds of step of a load job, in the order they run.</summary>
internal enum StepPhase
{
    /// <summary>The before-load DDL, then the plan: each table cut into slices.</summary>
    Schema = 0,

    /// <summary>One slice of one table: a range of the source's heap pages, loaded by one worker.</summary>
    Slice = 1,

    /// <summary>The after-load DDL (indexes, constraints), once every slice is done.</summary>
    Finish = 2,
}

/// <summary>One row of the job table.</summary>
internal sealed record JobStep(string Name, StepPhase Phase, string State, string? Owner, bool LeaseExpired, string? Table,
    int Slice, long FirstPage, long? EndPage, long RowsLoaded, int Attempts, string? LastError)
{
    public bool IsDone => State == LoadJob.Done;
}

/// <summary>What <see cref="LoadJob.ClaimAsync"/> found: a step to run, nothing to do yet, or a finished job.</summary>
internal sealed record Claim(JobStep? Step, bool JobDone, string? WaitingFor);

/// <summary>
/// A load shared by every <c>dsql-sync load</c> process that runs the same pipeline: its steps are rows of a table
/// in the target (<c>dsql_sync_jobs</c>), and DSQL is the only coordinator. A worker claims a step by writing its
/// name and a lease into the step's row; two workers claiming one step write the same row, so DSQL's optimistic
/// concurrency lets one of them commit and the other retries and picks another step. A worker renews its lease
/// while it works; a step whose lease ran out (its worker was killed, or lost the network) is claimed again, and the
/// slice's chunk checkpoints make the new worker skip what the old one committed.
/// </summary>
internal sealed class LoadJob
{
    public const string DefaultTableName = "dsql_sync_jobs";
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Done = "done";
    public const string SchemaStep = "schema";
    public const string FinishStep = "finish";

    /// <summary>The most slices one table is cut into: a table's plan is written in one transaction (under 3,000 rows).</summary>
    public const int MaxSlicesPerTable = 1000;

    private readonly DsqlDataSource _sink;
    private readonly string _table;

    public LoadJob(DsqlDataSource sink, string jobId, TimeSpan lease, string tableName = DefaultTableName)
    {
        _sink = sink;
        JobId = jobId;
        Lease = lease;
        _table = "\"" + tableName.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    public string JobId { get; }

    public TimeSpan Lease { get; }

    /// <summary>The step name of slice <paramref name="slice"/> of <paramref name="table"/>.</summary>
    public static string SliceName(string table, int slice) => table + "/" + slice.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>Creates the job table if missing. Several processes may do it at once: a lost race is an existing table.</summary>
    public Task EnsureCreatedAsync(CancellationToken cancellationToken)
        => RaceTolerantAsync(token => _sink.ExecuteNonQueryAsync(
            $"CREATE TABLE IF NOT EXISTS {_table} (job_id text NOT NULL, step text NOT NULL, phase integer NOT NULL, table_name text, " +
            "slice integer NOT NULL DEFAULT 0, first_page bigint NOT NULL DEFAULT 0, end_page bigint, state text NOT NULL, owner text, " +
            "lease_until timestamptz, attempts integer NOT NULL DEFAULT 0, rows_loaded bigint NOT NULL DEFAULT 0, last_error text, " +
            "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job_id, step))",
            cancellationToken: token), cancellationToken);

    /// <summary>
    /// Runs DDL written to be a no-op when its object exists (<c>IF NOT EXISTS</c>), again when another process's
    /// DDL raced it (a conflict, or an "already exists" from the catalog): the next attempt finds the object.
    /// </summary>
    public static async Task RaceTolerantAsync(Func<CancellationToken, Task> ddl, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await ddl(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (attempt < 5 && RaceLost(ex))
            {
                // Two processes created the object at once: the next attempt finds it and does nothing.
            }
        }
    }

    /// <summary>
    /// Adds the job's schema and finish steps unless another process already did. When <paramref name="tables"/>
    /// names a table the job has no plan for (the pipeline file selects more tables than when the job began), the
    /// schema and finish steps are opened again: the new tables are created and planned, the others are left as
    /// they are. Returns the tables added.
    /// </summary>
    public Task<IReadOnlyList<string>> RegisterAsync(IReadOnlyCollection<string> tables, CancellationToken cancellationToken)
        => _sink.ExecuteInTransactionAsync<IReadOnlyList<string>>(async (connection, token) =>
        {
            await using (var insert = new NpgsqlCommand(
                $"INSERT INTO {_table} (job_id, step, phase, state) VALUES ($1, '{SchemaStep}', 0, '{Pending}'), ($1, '{FinishStep}', 2, '{Pending}') ON CONFLICT DO NOTHING",
                connection))
            {
                insert.Parameters.Add(new NpgsqlParameter { Value = JobId });
                await insert.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            }
            var steps = await ReadAsync(connection, token).ConfigureAwait(false);
            if (steps.FirstOrDefault(s => s.Phase == StepPhase.Schema) is not { IsDone: true }) return [];
            var planned = steps.Where(s => s.Phase == StepPhase.Slice).Select(s => s.Table).ToHashSet(StringComparer.Ordinal);
            var added = tables.Where(t => !planned.Contains(t)).ToList();
            if (added.Count == 0) return added;
            await using var reopen = new NpgsqlCommand(
                $"UPDATE {_table} SET state = '{Pending}', owner = NULL, lease_until = NULL, updated_at = now() WHERE job_id = $1 AND phase IN (0, 2) AND state = '{Done}'",
                connection);
            reopen.Parameters.Add(new NpgsqlParameter { Value = JobId });
            await reopen.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            return added;
        }, cancellationToken: cancellationToken);

    /// <summary>
    /// Deletes the job's steps and its slices' chunk records in <paramref name="checkpointTable"/>, 1,000 rows a
    /// transaction (DSQL's row limit), so that the job can start again from nothing.
    /// </summary>
    public async Task DeleteAsync(CancellationToken cancellationToken, string checkpointTable = Bulk.DsqlTableCheckpoint.DefaultTableName)
    {
        string checkpoints = "\"" + checkpointTable.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        string[] deletes =
        [
            $"DELETE FROM {checkpoints} WHERE (job_id, chunk) IN (SELECT job_id, chunk FROM {checkpoints} WHERE left(job_id, length($1) + 1) = $1 || ':' LIMIT 1000)",
            $"DELETE FROM {_table} WHERE job_id = $1 AND step IN (SELECT step FROM {_table} WHERE job_id = $1 LIMIT 1000)",
        ];
        foreach (string sql in deletes)
        {
            int deleted;
            do
            {
                deleted = await _sink.ExecuteInTransactionAsync(async (connection, token) =>
                {
                    await using var command = new NpgsqlCommand(sql, connection);
                    command.Parameters.Add(new NpgsqlParameter { Value = JobId });
                    return await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            while (deleted > 0);
        }
    }

    /// <summary>Every step of the job.</summary>
    public Task<IReadOnlyList<JobStep>> ReadAsync(CancellationToken cancellationToken)
        => _sink.ExecuteInTransactionAsync((connection, token) => ReadAsync(connection, token),
            new DsqlTransactionOptions { ReadOnly = true }, cancellationToken);

    private async Task<IReadOnlyList<JobStep>> ReadAsync(NpgsqlConnection connection, CancellationToken cancellationToken, bool openOnly = false)
    {
        // Open steps only, for a claim: the first 1,000 in phase order are plenty to choose from, and a claim stays
        // cheap however many slices are done.
        await using var command = new NpgsqlCommand(
            "SELECT step, phase, state, owner, coalesce(lease_until < now(), true), table_name, slice, first_page, end_page, rows_loaded, attempts, last_error " +
            $"FROM {_table} WHERE job_id = $1{(openOnly ? $" AND state <> '{Done}'" : "")} ORDER BY phase, step{(openOnly ? " LIMIT 1000" : "")}",
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = JobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var steps = new List<JobStep>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            steps.Add(new JobStep(reader.GetString(0), (StepPhase)reader.GetInt32(1), reader.GetString(2), Text(reader, 3), reader.GetBoolean(4),
                Text(reader, 5), reader.GetInt32(6), reader.GetInt64(7), reader.IsDBNull(8) ? null : reader.GetInt64(8), reader.GetInt64(9),
                reader.GetInt32(10), Text(reader, 11)));
        }
        return steps;
    }

    private static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>
    /// Claims the next step <paramref name="owner"/> may run: the schema step first, then any slice (chosen at random,
    /// so that workers spread), then the finish step once every slice is done. A step is free when it is pending, or
    /// running under a lease that ran out. Returns no step while another worker holds what must come next.
    /// </summary>
    public Task<Claim> ClaimAsync(string owner, CancellationToken cancellationToken)
        => _sink.ExecuteInTransactionAsync(async (connection, token) =>
        {
            var open = await ReadAsync(connection, token, openOnly: true).ConfigureAwait(false);
            if (open.Count == 0) return new Claim(null, true, null);
            var phase = open.Min(s => s.Phase);
            var candidates = open.Where(s => s.Phase == phase && (s.State == Pending || s.LeaseExpired)).ToList();
            if (candidates.Count == 0)
            {
                var busy = open.First(s => s.Phase == phase);
                return new Claim(null, false, $"{busy.Name} (held by {busy.Owner})");
            }
            var step = candidates[Random.Shared.Next(candidates.Count)];
            await using var command = new NpgsqlCommand(
                $"UPDATE {_table} SET state = '{Running}', owner = $3, lease_until = now() + $4 * interval '1 millisecond', attempts = attempts + 1, updated_at = now() " +
                $"WHERE job_id = $1 AND step = $2 AND state <> '{Done}' AND (owner IS NULL OR lease_until IS NULL OR lease_until < now())",
                connection);
            command.Parameters.Add(new NpgsqlParameter { Value = JobId });
            command.Parameters.Add(new NpgsqlParameter { Value = step.Name });
            command.Parameters.Add(new NpgsqlParameter { Value = owner });
            command.Parameters.Add(new NpgsqlParameter { Value = Lease.TotalMilliseconds });
            // Zero rows: another worker claimed it since the read; the caller asks again.
            return await command.ExecuteNonQueryAsync(token).ConfigureAwait(false) == 1
                ? new Claim(step with { State = Running, Owner = owner, Attempts = step.Attempts + 1 }, false, null)
                : new Claim(null, false, step.Name);
        }, cancellationToken: cancellationToken);

    /// <summary>Extends <paramref name="owner"/>'s lease on <paramref name="step"/>; false when the step is no longer its own.</summary>
    public Task<bool> RenewAsync(string step, string owner, CancellationToken cancellationToken)
        => UpdateOwnedAsync(step, owner, $"lease_until = now() + $4 * interval '1 millisecond'", Lease.TotalMilliseconds, cancellationToken);

    /// <summary>Marks <paramref name="step"/> done with the rows its slice holds; false when the step was no longer <paramref name="owner"/>'s.</summary>
    public Task<bool> CompleteAsync(string step, string owner, long rows, CancellationToken cancellationToken)
        => UpdateOwnedAsync(step, owner, $"state = '{Done}', owner = NULL, lease_until = NULL, rows_loaded = $4, last_error = NULL", rows, cancellationToken);

    /// <summary>Gives <paramref name="step"/> back (pending, no owner) so another worker can take it at once, noting why.</summary>
    public Task<bool> ReleaseAsync(string step, string owner, string? error, CancellationToken cancellationToken)
        => UpdateOwnedAsync(step, owner, $"state = '{Pending}', owner = NULL, lease_until = NULL, last_error = $4", (object?)error ?? DBNull.Value, cancellationToken);

    private Task<bool> UpdateOwnedAsync(string step, string owner, string set, object value, CancellationToken cancellationToken)
        => _sink.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var command = new NpgsqlCommand(
                $"UPDATE {_table} SET {set}, updated_at = now() WHERE job_id = $1 AND step = $2 AND owner = $3 AND state = '{Running}'", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = JobId });
            command.Parameters.Add(new NpgsqlParameter { Value = step });
            command.Parameters.Add(new NpgsqlParameter { Value = owner });
            command.Parameters.Add(new NpgsqlParameter { Value = value });
            return await command.ExecuteNonQueryAsync(token).ConfigureAwait(false) == 1;
        }, cancellationToken: cancellationToken);

    /// <summary>Whether the plan of <paramref name="table"/> (its slices) is written.</summary>
    public Task<bool> HasSlicesAsync(string table, CancellationToken cancellationToken)
        => _sink.ExecuteInTransactionAsync(async (connection, token) =>
        {
            await using var command = new NpgsqlCommand($"SELECT 1 FROM {_table} WHERE job_id = $1 AND table_name = $2 LIMIT 1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = JobId });
            command.Parameters.Add(new NpgsqlParameter { Value = table });
            return await command.ExecuteScalarAsync(token).ConfigureAwait(false) is not null;
        }, new DsqlTransactionOptions { ReadOnly = true }, cancellationToken);

    /// <summary>Writes the slices of <paramref name="table"/> in one transaction: the whole plan of a table or none of it.</summary>
    public Task AddSlicesAsync(string table, IReadOnlyList<(long FirstPage, long? EndPage)> slices, CancellationToken cancellationToken)
    {
        if (slices.Count is 0 or > MaxSlicesPerTable) throw new ArgumentOutOfRangeException(nameof(slices), slices.Count, $"A table has 1 to {MaxSlicesPerTable} slices.");
        return _sink.ExecuteInTransactionAsync(async (connection, token) =>
        {
            // 6 parameters a row: at most 6,000 for 1,000 slices, far under the protocol's 65,535.
            var sql = new System.Text.StringBuilder($"INSERT INTO {_table} (job_id, step, phase, table_name, slice, first_page, end_page, state) VALUES ");
            await using var command = new NpgsqlCommand { Connection = connection };
            command.Parameters.Add(new NpgsqlParameter { Value = JobId });
            command.Parameters.Add(new NpgsqlParameter { Value = table });
            for (int i = 0; i < slices.Count; i++)
            {
                int p = command.Parameters.Count;
                if (i > 0) sql.Append(", ");
                sql.Append(CultureInfo.InvariantCulture, $"($1, ${p + 1}, 1, $2, ${p + 2}, ${p + 3}, ${p + 4}, '{Pending}')");
                command.Parameters.Add(new NpgsqlParameter { Value = SliceName(table, i) });
                command.Parameters.Add(new NpgsqlParameter { Value = i });
                command.Parameters.Add(new NpgsqlParameter { Value = slices[i].FirstPage });
                command.Parameters.Add(new NpgsqlParameter { Value = (object?)slices[i].EndPage ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
            }
            sql.Append(" ON CONFLICT DO NOTHING");
            command.CommandText = sql.ToString();
            await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
        }, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Cuts a table of <paramref name="pages"/> heap pages into slices of <paramref name="pagesPerSlice"/> pages (more
    /// pages a slice when that would make more than <see cref="MaxSlicesPerTable"/>). The last slice has no end: rows
    /// on pages added after the plan was made are loaded too.
    /// </summary>
    public static IReadOnlyList<(long FirstPage, long? EndPage)> Plan(long pages, long pagesPerSlice)
    {
        long size = Math.Max(pagesPerSlice, (pages + MaxSlicesPerTable - 1) / MaxSlicesPerTable);
        int count = (int)Math.Max(1, (pages + size - 1) / size);
        var slices = new List<(long, long?)>(count);
        for (int i = 0; i < count; i++) slices.Add((i * size, i == count - 1 ? null : (i + 1) * size));
        return slices;
    }

    /// <summary>True for the errors two processes get when they create the same object at the same time.</summary>
    public static bool RaceLost(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.DuplicateTable or PostgresErrorCodes.DuplicateObject or PostgresErrorCodes.DuplicateSchema or PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.SerializationFailure })
                return true;
        }
        return false;
    }
}
