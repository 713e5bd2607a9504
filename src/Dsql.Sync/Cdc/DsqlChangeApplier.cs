using System.Diagnostics;
using Dsql.Connector;
using Dsql.Sync.Schema;
using Npgsql;

namespace Dsql.Sync.Cdc;

/// <summary>
/// Applies an ordered stream of <see cref="SourceTransaction"/>s to DSQL exactly once. Consecutive source transactions
/// are batched into one DSQL transaction while it stays within DSQL's limits (and
/// <see cref="DsqlChangeApplierOptions.MaxChangesPerTransaction"/>); a source transaction larger than that is split
/// over several. The position (<see cref="ChangePosition"/>) is written to the checkpoint table in the same DSQL
/// transaction as the changes it covers, so a crash at any instant resumes from <see cref="GetPositionAsync"/> with
/// no change lost and none applied twice. Each row's changes are applied in stream order; with several lanes
/// (<see cref="DsqlChangeApplierOptions.Lanes"/>) rows are spread over lanes by key, each lane committing its own
/// batches and keeping its own position.
/// </summary>
/// <remarks>
/// An applier is immutable and runs one stream at a time per pipeline: two appliers of one pipeline conflict on its
/// position row, and DSQL's optimistic concurrency lets one of them win each batch. See docs/cdc.md, "The change applier".
/// </remarks>
public sealed partial class DsqlChangeApplier
{
    /// <summary>Rows DSQL may modify per transaction, less the position's row and a dead letter's.</summary>
    private const int MaxRows = DsqlQuotas.MaxRowsPerTransaction - 2;

    /// <summary>Bytes set aside in every transaction for the position row and a dead letter (whose values are capped).</summary>
    private const long ReservedBytes = 64 * 1024;

    /// <summary>Commands sent in one round trip.</summary>
    private const int CommandsPerRoundTrip = 250;

    private readonly DsqlDataSource _dataSource;
    private readonly DsqlChangeApplierOptions _options;
    private readonly DsqlTransactionOptions _transactionOptions;
    private readonly string _positionTable;
    private readonly string _deadLetterTable;
    private readonly SchemaMappingOptions _typeMapping;
    private readonly KeyValuePair<string, object?> _pipelineTag;

    /// <summary>An applier writing through <paramref name="dataSource"/>; the options are validated and copied.</summary>
    /// <exception cref="ArgumentException">An option is wrong (the message names it).</exception>
    public DsqlChangeApplier(DsqlDataSource dataSource, DsqlChangeApplierOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _dataSource = dataSource;
        _options = options.Copy();
        _transactionOptions = _options.TransactionOptions ?? DsqlTransactionOptions.Default;
        _positionTable = Bulk.SqlNames.QualifiedName(_options.PositionTable, nameof(DsqlChangeApplierOptions.PositionTable));
        _deadLetterTable = Bulk.SqlNames.QualifiedName(_options.DeadLetterTable, nameof(DsqlChangeApplierOptions.DeadLetterTable));
        _typeMapping = _options.TypeMapping ?? new SchemaMappingOptions();
        _pipelineTag = new(CdcTelemetry.PipelineTag, _options.PipelineId);
    }

    /// <summary>The pipeline whose position this applier keeps.</summary>
    public string PipelineId => _options.PipelineId!;

    /// <summary>
    /// Creates the checkpoint table (pipeline id primary key, commit lsn, applied count, complete flag, updated_at)
    /// and the dead-letter table if they do not exist: one DDL statement per transaction, as DSQL requires.
    /// </summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        await _dataSource.ExecuteNonQueryAsync(
            $"CREATE TABLE IF NOT EXISTS {_positionTable} (pipeline_id text PRIMARY KEY, commit_lsn bigint NOT NULL, applied integer NOT NULL, complete boolean NOT NULL, updated_at timestamptz NOT NULL)",
            cancellationToken: cancellationToken).ConfigureAwait(false);
        await _dataSource.ExecuteNonQueryAsync(
            $"CREATE TABLE IF NOT EXISTS {_deadLetterTable} (pipeline_id text NOT NULL, commit_lsn bigint NOT NULL, change_index integer NOT NULL, table_name text NOT NULL, kind text NOT NULL, change_values text, sql_state text, message text NOT NULL, failed_at timestamptz NOT NULL, PRIMARY KEY (pipeline_id, commit_lsn, change_index))",
            cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// How far the pipeline is applied: every change up to the position returned is (<see cref="ChangePosition.Start"/>
    /// when nothing is). With several lanes (<see cref="DsqlChangeApplierOptions.Lanes"/>) it is the slowest lane's
    /// position; faster lanes may have applied later changes of their own.
    /// </summary>
    public async Task<ChangePosition> GetPositionAsync(CancellationToken cancellationToken = default)
        => await _dataSource.ExecuteInTransactionAsync(async (connection, token) => Through(await ReadLayoutsAsync(connection, token).ConfigureAwait(false)),
            ReadOnlyOptions, cancellationToken).ConfigureAwait(false);

    private DsqlTransactionOptions ReadOnlyOptions => new() { ReadOnly = true, MaxRetries = _transactionOptions.MaxRetries, Timeout = _transactionOptions.Timeout };

    /// <summary>
    /// Applies <paramref name="stream"/> from the stored positions: changes they cover are skipped, the others are
    /// applied (each row's changes in order), and when a DSQL commit moves the pipeline's position (the slowest lane's,
    /// see <see cref="GetPositionAsync"/>) <paramref name="committed"/> receives it: acknowledge to the source only then.
    /// Returns when the stream ends and everything read is committed.
    /// </summary>
    /// <param name="stream">Source transactions in commit order.</param>
    /// <param name="committed">Called, one call at a time, when a commit moves the pipeline's position; awaited before the committing lane goes on.</param>
    /// <param name="progress">Told what the run committed after each commit.</param>
    /// <param name="cancellationToken">Stops the run; the DSQL transaction in flight is rolled back, and everything committed stays.</param>
    /// <returns>The last position committed (the stored one when nothing was).</returns>
    /// <exception cref="ChangeApplyException">A change could not be applied (a poison change under <see cref="PoisonBehavior.Stop"/>, a schema change under <see cref="SchemaChangeBehavior.Stop"/>, a table without key, a missing table).</exception>
    public async Task<ChangePosition> ApplyAsync(
        IAsyncEnumerable<SourceTransaction> stream,
        Func<ChangePosition, CancellationToken, ValueTask>? committed = null,
        IProgress<ChangeApplyProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var layouts = await _dataSource.ExecuteInTransactionAsync(ReadLayoutsAsync, ReadOnlyOptions, cancellationToken).ConfigureAwait(false);
        var run = new Run(this, committed, progress, layouts, cancellationToken);
        return await run.RunAsync(stream).ConfigureAwait(false);
    }
}
