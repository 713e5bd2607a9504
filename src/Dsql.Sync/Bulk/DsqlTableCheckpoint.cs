using Dsql.Connector;
using Npgsql;

namespace Dsql.Sync.Bulk;

/// <summary>
/// An <see cref="IBulkCheckpoint"/> kept in a DSQL table (by default <c>dsql_sync_checkpoints</c>: job id, chunk
/// number, rows, commit time; primary key job id + chunk). A chunk's record is inserted in the chunk's transaction,
/// so a chunk recorded twice fails rather than writing its rows twice.
/// </summary>
public sealed class DsqlTableCheckpoint : IBulkCheckpoint
{
    /// <summary>The table name used when none is given.</summary>
    public const string DefaultTableName = "dsql_sync_checkpoints";

    private readonly DsqlDataSource _dataSource;
    private readonly string _table;

    /// <summary>A checkpoint in <paramref name="tableName"/> (optionally schema-qualified) of the database behind <paramref name="dataSource"/>.</summary>
    public DsqlTableCheckpoint(DsqlDataSource dataSource, string tableName = DefaultTableName)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(tableName);
        _dataSource = dataSource;
        _table = SqlNames.QualifiedName(tableName, nameof(tableName));
    }

    /// <summary>Creates the table if it does not exist (one DDL statement, in a transaction of its own as DSQL requires).</summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        await _dataSource.ExecuteNonQueryAsync(
            $"CREATE TABLE IF NOT EXISTS {_table} (job_id text NOT NULL, chunk bigint NOT NULL, row_count integer NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job_id, chunk))",
            cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlySet<long>> GetCommittedChunksAsync(string jobId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobId);
        var options = new DsqlTransactionOptions { ReadOnly = true };
        return await _dataSource.ExecuteInTransactionAsync<IReadOnlySet<long>>(async (connection, token) =>
        {
            var chunks = new HashSet<long>();
            await using var command = new NpgsqlCommand($"SELECT chunk FROM {_table} WHERE job_id = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = jobId });
            await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
            while (await reader.ReadAsync(token).ConfigureAwait(false)) chunks.Add(reader.GetInt64(0));
            return chunks;
        }, options, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> IsRecordedAsync(NpgsqlConnection connection, string jobId, long chunk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = new NpgsqlCommand($"SELECT 1 FROM {_table} WHERE job_id = $1 AND chunk = $2", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = chunk });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc/>
    public async Task RecordAsync(NpgsqlConnection connection, string jobId, long chunk, int rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = new NpgsqlCommand($"INSERT INTO {_table} (job_id, chunk, row_count) VALUES ($1, $2, $3)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = chunk });
        command.Parameters.Add(new NpgsqlParameter { Value = rows });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
