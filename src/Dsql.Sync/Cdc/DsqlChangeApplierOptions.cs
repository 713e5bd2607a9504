using Dsql.Connector;
using Dsql.Sync.Schema;

namespace Dsql.Sync.Cdc;

/// <summary>What <see cref="DsqlChangeApplier"/> does when a change's table has gained or lost columns at the source.</summary>
public enum SchemaChangeBehavior
{
    /// <summary>Run <c>ALTER TABLE ... ADD COLUMN</c> / <c>DROP COLUMN</c> on DSQL, each alone in its own transaction, before the change.</summary>
    Apply,

    /// <summary>Stop with a <see cref="ChangeApplyException"/> naming the table, the column and the position.</summary>
    Stop,
}

/// <summary>What <see cref="DsqlChangeApplier"/> does with a change DSQL refuses for good (bad data, a constraint, a DSQL limit).</summary>
public enum PoisonBehavior
{
    /// <summary>Stop with a <see cref="ChangeApplyException"/>; the position stays before the change.</summary>
    Stop,

    /// <summary>
    /// Write the change to the dead-letter table (<see cref="DsqlChangeApplierOptions.DeadLetterTable"/>) in the
    /// transaction that moves the position past it, count it, and go on.
    /// </summary>
    DeadLetter,
}

/// <summary>
/// The settings of one <see cref="DsqlChangeApplier"/>: plain data, checked once by the applier (which copies them).
/// </summary>
public sealed class DsqlChangeApplierOptions
{
    /// <summary>The checkpoint table used when none is given.</summary>
    public const string DefaultPositionTable = "dsql_sync_positions";

    /// <summary>The dead-letter table used when none is given.</summary>
    public const string DefaultDeadLetterTable = "dsql_sync_dead_letters";

    /// <summary>
    /// <see cref="MaxChangesPerTransaction"/> by default: 1,000 changes. A DSQL transaction may modify 3,000 rows; a
    /// key update is two (a delete and an insert), and a smaller batch commits sooner, which keeps the lag low.
    /// </summary>
    public const int DefaultMaxChangesPerTransaction = 1_000;

    /// <summary>
    /// <see cref="MaxBytesPerTransaction"/> by default: 9 MiB, a tenth under DSQL's 10 MiB (the same margin as the
    /// bulk writer: the estimate counts every index entry, DSQL's own count may differ a little).
    /// </summary>
    public const long DefaultMaxBytesPerTransaction = 9L * 1024 * 1024;

    /// <summary>
    /// <see cref="MaxBatchDelay"/> by default: 50 ms. Waiting for more source transactions saves commits when the
    /// stream is busy; when it pauses, a batch waits no longer than this.
    /// </summary>
    public static readonly TimeSpan DefaultMaxBatchDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>The most apply lanes (<see cref="Lanes"/>).</summary>
    public const int MaxLanes = 64;

    /// <summary>The pipeline whose position the checkpoint table keeps (its primary key). Required.</summary>
    public string? PipelineId { get; set; }

    /// <summary>The checkpoint table, optionally schema-qualified (default <see cref="DefaultPositionTable"/>).</summary>
    public string PositionTable { get; set; } = DefaultPositionTable;

    /// <summary>The dead-letter table, optionally schema-qualified (default <see cref="DefaultDeadLetterTable"/>).</summary>
    public string DeadLetterTable { get; set; } = DefaultDeadLetterTable;

    /// <summary>The most changes in one DSQL transaction (1 to 2,998; default <see cref="DefaultMaxChangesPerTransaction"/>).</summary>
    public int MaxChangesPerTransaction { get; set; } = DefaultMaxChangesPerTransaction;

    /// <summary>The most estimated bytes (rows and index entries) in one DSQL transaction (64 KiB to 10 MiB; default <see cref="DefaultMaxBytesPerTransaction"/>).</summary>
    public long MaxBytesPerTransaction { get; set; } = DefaultMaxBytesPerTransaction;

    /// <summary>
    /// How long a batch waits for more changes when its lane has none queued: at most this long after its first change
    /// (0 to 10 s; default <see cref="DefaultMaxBatchDelay"/>). A full batch commits at once.
    /// </summary>
    public TimeSpan MaxBatchDelay { get; set; } = DefaultMaxBatchDelay;

    /// <summary>
    /// Apply lanes (1 to 64; default 1). With more than one, rows are spread over lanes by a hash of their table and
    /// key, and each lane commits its own DSQL transactions concurrently: each row's changes stay in order, but one
    /// source transaction's changes may become visible on DSQL in several commits. A key update between two lanes, a
    /// truncate and a schema change wait for every lane. Changing the number between runs is safe.
    /// </summary>
    public int Lanes { get; set; } = 1;

    /// <summary>
    /// Whether a batch's changes are merged into multi-row statements, each row's net effect once (default true).
    /// False sends every change as its own statement: slower, for a table whose secondary unique indexes make merged
    /// batches fail often (each such batch is tried merged, then again change by change).
    /// </summary>
    public bool MergeChanges { get; set; } = true;

    /// <summary>Columns added or dropped at the source (default <see cref="SchemaChangeBehavior.Apply"/>).</summary>
    public SchemaChangeBehavior SchemaChanges { get; set; } = SchemaChangeBehavior.Apply;

    /// <summary>Changes DSQL refuses for good (default <see cref="PoisonBehavior.Stop"/>).</summary>
    public PoisonBehavior Poison { get; set; } = PoisonBehavior.Stop;

    /// <summary>The type rules for columns added at the source (the bulk load's rules; default: <see cref="SchemaMappingOptions.DefaultTypeRules"/>).</summary>
    public SchemaMappingOptions? TypeMapping { get; set; }

    /// <summary>Retries and the transaction guard of each DSQL transaction (default: the connector's defaults).</summary>
    public DsqlTransactionOptions? TransactionOptions { get; set; }

    internal DsqlChangeApplierOptions Copy()
    {
        var copy = (DsqlChangeApplierOptions)MemberwiseClone();
        return copy;
    }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(PipelineId))
            throw new ArgumentException("PipelineId is required: it keys the pipeline's position in the checkpoint table.", nameof(PipelineId));
        if (string.IsNullOrWhiteSpace(PositionTable))
            throw new ArgumentException("PositionTable is empty.", nameof(PositionTable));
        if (string.IsNullOrWhiteSpace(DeadLetterTable))
            throw new ArgumentException("DeadLetterTable is empty.", nameof(DeadLetterTable));
        if (MaxChangesPerTransaction is < 1 or > DsqlQuotas.MaxRowsPerTransaction - 2)
            throw new ArgumentException($"MaxChangesPerTransaction is {MaxChangesPerTransaction}: it must be 1 to {DsqlQuotas.MaxRowsPerTransaction - 2} (DSQL's {DsqlQuotas.MaxRowsPerTransaction} rows less the position and a dead letter).", nameof(MaxChangesPerTransaction));
        if (MaxBytesPerTransaction < 64 * 1024 || MaxBytesPerTransaction > DsqlQuotas.MaxBytesPerTransaction)
            throw new ArgumentException($"MaxBytesPerTransaction is {MaxBytesPerTransaction}: it must be 65,536 to {DsqlQuotas.MaxBytesPerTransaction} (DSQL's 10 MiB).", nameof(MaxBytesPerTransaction));
        if (MaxBatchDelay < TimeSpan.Zero || MaxBatchDelay > TimeSpan.FromSeconds(10))
            throw new ArgumentException($"MaxBatchDelay is {MaxBatchDelay}: it must be 0 to 10 seconds.", nameof(MaxBatchDelay));
        if (Lanes is < 1 or > MaxLanes)
            throw new ArgumentException($"Lanes is {Lanes}: it must be 1 to {MaxLanes}.", nameof(Lanes));
        if (!Enum.IsDefined(SchemaChanges)) throw new ArgumentException($"SchemaChanges is {SchemaChanges}.", nameof(SchemaChanges));
        if (!Enum.IsDefined(Poison)) throw new ArgumentException($"Poison is {Poison}.", nameof(Poison));
    }
}
