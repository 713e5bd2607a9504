using Dsql.Connector;

namespace Dsql.Sync.Bulk;

/// <summary>
/// The settings of one <see cref="DsqlBulkWriter"/>: plain data, checked by <see cref="Validate"/> (which the writer
/// calls and which names the option at fault). The writer copies them: later edits change nothing it does.
/// </summary>
public sealed class DsqlBulkWriterOptions
{
    /// <summary>The most rows DSQL lets one transaction modify (3,000): the ceiling of <see cref="MaxRowsPerChunk"/>.</summary>
    public const int DsqlMaxRowsPerTransaction = DsqlQuotas.MaxRowsPerTransaction;

    /// <summary>The most bytes DSQL lets one write transaction modify (10 MiB): the ceiling of <see cref="MaxBytesPerChunk"/>.</summary>
    public const long DsqlMaxBytesPerTransaction = DsqlQuotas.MaxBytesPerTransaction;

    /// <summary>The most bind parameters one statement may carry (65,535, the PostgreSQL protocol's limit): the ceiling of <see cref="MaxParametersPerStatement"/>.</summary>
    public const int ProtocolMaxParameters = 65_535;

    /// <summary>
    /// <see cref="MaxBytesPerChunk"/> by default: 9 MiB, a tenth under DSQL's 10 MiB so that a byte estimate a
    /// little short of DSQL's own count (storage overhead, type widths) still fits.
    /// </summary>
    public const long DefaultMaxBytesPerChunk = 9L * 1024 * 1024;

    /// <summary>
    /// <see cref="Parallelism"/> by default: 4 connections; each chunk is one round trip of a few hundred
    /// kilobytes, so a few chunks in flight hide the latency without crowding the pool.
    /// </summary>
    public const int DefaultParallelism = 4;

    /// <summary>
    /// The target table, optionally schema-qualified (<c>sales.orders</c>). Each part is quoted as given: write
    /// names as they are stored (lower case for unquoted DDL). Required.
    /// </summary>
    public string? Table { get; set; }

    /// <summary>
    /// The target columns in the order of the input's fields. For a <c>DbDataReader</c> or a <c>DataTable</c>,
    /// null means the input's own field names; for an <c>IAsyncEnumerable</c> the column map names the columns
    /// and this must be null or the same names in the same order.
    /// </summary>
    public IList<string>? Columns { get; set; }

    /// <summary>What happens to a row whose key already exists (default <see cref="BulkWriteMode.Insert"/>).</summary>
    public BulkWriteMode Mode { get; set; } = BulkWriteMode.Insert;

    /// <summary>How rows are sent (default <see cref="BulkWireFormat.MultiRowInsert"/>); <see cref="BulkWireFormat.BinaryCopy"/> needs <see cref="BulkWriteMode.Insert"/>.</summary>
    public BulkWireFormat WireFormat { get; set; } = BulkWireFormat.MultiRowInsert;

    /// <summary>Chunks written at the same time, each on its own connection from the data source (1 to 256; default <see cref="DefaultParallelism"/>).</summary>
    public int Parallelism { get; set; } = DefaultParallelism;

    /// <summary>
    /// The most rows in one chunk, that is one transaction (1 to <see cref="DsqlMaxRowsPerTransaction"/>, which is the
    /// default). With a <see cref="Checkpoint"/> a chunk holds at most 2,999 rows: the checkpoint's record is the
    /// transaction's 3,000th row.
    /// </summary>
    public int MaxRowsPerChunk { get; set; } = DsqlMaxRowsPerTransaction;

    /// <summary>
    /// The most estimated bytes in one chunk: row data plus one key's bytes per row for the primary key and for each
    /// secondary index (16 KiB to <see cref="DsqlMaxBytesPerTransaction"/>; default <see cref="DefaultMaxBytesPerChunk"/>).
    /// With a <see cref="Checkpoint"/>, about 2 KiB of it is set aside for the checkpoint's record.
    /// </summary>
    public long MaxBytesPerChunk { get; set; } = DefaultMaxBytesPerChunk;

    /// <summary>
    /// <see cref="MaxRowsPerStatement"/> by default: 200. Through the emulator, 3,000-row statements loaded about
    /// 13,000 rows/s and 200-row statements about 30,000 (docs/loading.md): a huge VALUES list costs more to parse and
    /// plan than it saves in round trips.
    /// </summary>
    public const int DefaultMaxRowsPerStatement = 200;

    /// <summary>The most rows in one INSERT statement; a chunk is sent as several statements in its transaction (1 to 3,000; default <see cref="DefaultMaxRowsPerStatement"/>). Not used by binary COPY.</summary>
    public int MaxRowsPerStatement { get; set; } = DefaultMaxRowsPerStatement;

    /// <summary>The most bind parameters in one INSERT statement; a chunk with more is sent as several statements in its transaction (1 to <see cref="ProtocolMaxParameters"/>, the default).</summary>
    public int MaxParametersPerStatement { get; set; } = ProtocolMaxParameters;

    /// <summary>
    /// The primary key's columns. Null (the default) reads them from the catalog. Required by
    /// <see cref="BulkWriteMode.Upsert"/>, and counted in every row's byte estimate.
    /// </summary>
    public IList<string>? PrimaryKey { get; set; }

    /// <summary>
    /// The columns of each secondary index (key and included columns; an expression is counted as a 1 KiB key). Null
    /// (the default) reads them from the catalog; an empty list says the table has none.
    /// </summary>
    public IList<IList<string>>? Indexes { get; set; }

    /// <summary>The job's name for <see cref="Checkpoint"/>: the same job id and the same ordered input number the chunks the same way. Required with a checkpoint.</summary>
    public string? JobId { get; set; }

    /// <summary>Where committed chunks are recorded, in each chunk's own transaction, so that a rerun skips them. Null: no checkpoint.</summary>
    public IBulkCheckpoint? Checkpoint { get; set; }

    /// <summary>The retry and guard settings of each chunk's transaction; null uses the connector's defaults.</summary>
    public DsqlTransactionOptions? TransactionOptions { get; set; }

    /// <summary>Checks every option and throws <see cref="ArgumentException"/> naming the first one that is wrong.</summary>
    /// <exception cref="ArgumentException">An option is missing or out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Table)) Fail(nameof(Table), "is required: the table to write into.");
        if (Table!.Split('.').Length > 2 || Table.Split('.').Any(string.IsNullOrWhiteSpace))
            Fail(nameof(Table), $"must be 'table' or 'schema.table' (got '{Table}').");
        if (Columns is not null)
        {
            if (Columns.Count == 0) Fail(nameof(Columns), "must name at least one column, or be null to take the input's names.");
            if (Columns.Any(string.IsNullOrWhiteSpace)) Fail(nameof(Columns), "must not contain an empty name.");
            var repeated = Columns.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (repeated is not null) Fail(nameof(Columns), $"names column '{repeated.Key}' twice.");
            if (Columns.Count > DsqlQuotas.MaxColumnsPerTable) Fail(nameof(Columns), $"names {Columns.Count} columns; a DSQL table has at most {DsqlQuotas.MaxColumnsPerTable}.");
        }
        if (!Enum.IsDefined(Mode)) Fail(nameof(Mode), $"must be Insert, InsertIgnore or Upsert (got {(int)Mode}).");
        if (!Enum.IsDefined(WireFormat)) Fail(nameof(WireFormat), $"must be MultiRowInsert or BinaryCopy (got {(int)WireFormat}).");
        if (WireFormat == BulkWireFormat.BinaryCopy && Mode != BulkWriteMode.Insert)
            Fail(nameof(WireFormat), $"BinaryCopy works with Mode Insert only: COPY has no ON CONFLICT (Mode is {Mode}).");
        if (Parallelism is < 1 or > 256) Fail(nameof(Parallelism), $"must be between 1 and 256 (got {Parallelism}).");
        if (MaxRowsPerChunk < 1 || MaxRowsPerChunk > DsqlMaxRowsPerTransaction)
            Fail(nameof(MaxRowsPerChunk), $"must be between 1 and {DsqlMaxRowsPerTransaction}, DSQL's rows per transaction (got {MaxRowsPerChunk}).");
        if (MaxBytesPerChunk < 16 * 1024 || MaxBytesPerChunk > DsqlMaxBytesPerTransaction)
            Fail(nameof(MaxBytesPerChunk), $"must be between 16384 and {DsqlMaxBytesPerTransaction}, DSQL's 10 MiB per transaction (got {MaxBytesPerChunk}).");
        if (MaxRowsPerStatement < 1 || MaxRowsPerStatement > DsqlMaxRowsPerTransaction)
            Fail(nameof(MaxRowsPerStatement), $"must be between 1 and {DsqlMaxRowsPerTransaction} (got {MaxRowsPerStatement}).");
        if (MaxParametersPerStatement < 1 || MaxParametersPerStatement > ProtocolMaxParameters)
            Fail(nameof(MaxParametersPerStatement), $"must be between 1 and {ProtocolMaxParameters} (got {MaxParametersPerStatement}).");
        if (Columns is not null && Columns.Count > MaxParametersPerStatement)
            Fail(nameof(MaxParametersPerStatement), $"must be at least the number of columns ({Columns.Count}): one row is one statement's parameters at least.");
        if (PrimaryKey is not null && (PrimaryKey.Count == 0 || PrimaryKey.Any(string.IsNullOrWhiteSpace)))
            Fail(nameof(PrimaryKey), "must name at least one column and no empty one, or be null to read it from the catalog.");
        if (Indexes is not null && Indexes.Any(index => index is null || index.Count == 0 || index.Any(string.IsNullOrWhiteSpace)))
            Fail(nameof(Indexes), "must list, for each index, at least one column and no empty one.");
        if (Checkpoint is not null && string.IsNullOrWhiteSpace(JobId))
            Fail(nameof(JobId), "is required with a Checkpoint: it names the job whose chunks are recorded.");
        TransactionOptions?.Validate();
    }

    internal DsqlBulkWriterOptions Copy() => new()
    {
        Table = Table,
        Columns = Columns?.ToArray(),
        Mode = Mode,
        WireFormat = WireFormat,
        Parallelism = Parallelism,
        MaxRowsPerChunk = MaxRowsPerChunk,
        MaxBytesPerChunk = MaxBytesPerChunk,
        MaxParametersPerStatement = MaxParametersPerStatement,
        MaxRowsPerStatement = MaxRowsPerStatement,
        PrimaryKey = PrimaryKey?.ToArray(),
        Indexes = Indexes?.Select(index => (IList<string>)index.ToArray()).ToArray(),
        JobId = JobId,
        Checkpoint = Checkpoint,
        TransactionOptions = TransactionOptions,
    };

    private static void Fail(string option, string problem)
        => throw new ArgumentException($"DsqlBulkWriterOptions.{option} {problem}", option);
}
