using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Dsql.Connector;
using Npgsql;

namespace Dsql.Sync.Bulk;

/// <summary>
/// Writes rows into a DSQL table in chunks that always fit DSQL's limits: at most
/// <see cref="DsqlBulkWriterOptions.MaxRowsPerChunk"/> rows (3,000 at most) and
/// <see cref="DsqlBulkWriterOptions.MaxBytesPerChunk"/> estimated bytes (index entries included; 10 MiB at most)
/// per chunk, at most <see cref="DsqlBulkWriterOptions.MaxParametersPerStatement"/> bind parameters per statement.
/// Each chunk is one transaction of <see cref="DsqlDataSource.ExecuteInTransactionAsync{T}"/> (retried on
/// conflicts), written as multi-row <c>INSERT</c> statements; <see cref="DsqlBulkWriterOptions.Parallelism"/> chunks
/// run at once. Chunks are numbered in input order, the same way for the same ordered input and options, so a
/// checkpoint (<see cref="DsqlBulkWriterOptions.Checkpoint"/>) lets a rerun skip those already committed.
/// </summary>
/// <remarks>
/// A writer is immutable and thread-safe: one writer may run several loads. Cancelling a load rolls back the chunks
/// in flight: the table holds whole chunks only.
/// </remarks>
public sealed class DsqlBulkWriter
{
    /// <summary>Bytes set aside in each chunk for the checkpoint's record: its row and its key, generously (a job id is short).</summary>
    private const long CheckpointRecordBytes = 2 * 1024 + 64;

    private readonly DsqlDataSource _dataSource;
    private readonly DsqlBulkWriterOptions _options;
    private readonly string _table;

    /// <summary>A writer into the table of <paramref name="options"/> through <paramref name="dataSource"/>; the options are validated and copied.</summary>
    /// <exception cref="ArgumentException">An option is wrong (the message names it).</exception>
    public DsqlBulkWriter(DsqlDataSource dataSource, DsqlBulkWriterOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _dataSource = dataSource;
        _options = options.Copy();
        _table = SqlNames.QualifiedName(_options.Table!, nameof(DsqlBulkWriterOptions.Table));
    }

    /// <summary>Test hook: runs in each chunk's transaction after its first statement, with the chunk number and the attempt (1-based).</summary>
    internal Func<NpgsqlConnection, long, int, CancellationToken, Task>? AfterFirstStatement { get; set; }

    /// <summary>Writes the items of <paramref name="rows"/>, one row each, with the columns and values of <paramref name="columns"/>.</summary>
    /// <returns>What this run committed.</returns>
    /// <exception cref="DsqlBulkWriteException">A chunk failed; the chunks committed before it stay committed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; only whole chunks were committed.</exception>
    public Task<BulkProgress> WriteAsync<T>(IAsyncEnumerable<T> rows, BulkColumnMap<T> columns, IProgress<BulkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0) throw new ArgumentException("The column map maps no column.", nameof(columns));
        string[] names = columns.Select(c => c.Key).ToArray();
        if (_options.Columns is not null && !_options.Columns.SequenceEqual(names, StringComparer.Ordinal))
            throw new ArgumentException("DsqlBulkWriterOptions.Columns must be null or name the column map's columns in its order.", nameof(columns));
        Func<T, object?>[] getters = columns.Select(c => c.Value).ToArray();
        return RunAsync(names, Project(rows, getters, cancellationToken), progress, cancellationToken);
    }

    /// <summary>
    /// Writes the rows of <paramref name="reader"/> (read to its end), its fields in order into
    /// <see cref="DsqlBulkWriterOptions.Columns"/>, or into columns named as the fields when that is null.
    /// </summary>
    /// <inheritdoc cref="WriteAsync{T}(IAsyncEnumerable{T}, BulkColumnMap{T}, IProgress{BulkProgress}?, CancellationToken)"/>
    public Task<BulkProgress> WriteAsync(DbDataReader reader, IProgress<BulkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string[] names = ColumnsFor(Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray(), nameof(reader));
        return RunAsync(names, Read(reader, cancellationToken), progress, cancellationToken);
    }

    /// <summary>
    /// Writes the rows of <paramref name="table"/> (deleted rows left out), its columns in order into
    /// <see cref="DsqlBulkWriterOptions.Columns"/>, or into columns named as the DataTable's when that is null.
    /// </summary>
    /// <inheritdoc cref="WriteAsync{T}(IAsyncEnumerable{T}, BulkColumnMap{T}, IProgress{BulkProgress}?, CancellationToken)"/>
    public Task<BulkProgress> WriteAsync(DataTable table, IProgress<BulkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        string[] names = ColumnsFor(table.Columns.Cast<DataColumn>().Select(c => c.ColumnName).ToArray(), nameof(table));
        return RunAsync(names, Rows(table), progress, cancellationToken);
    }

    private string[] ColumnsFor(string[] sourceNames, string parameter)
    {
        if (_options.Columns is null) return sourceNames;
        if (_options.Columns.Count != sourceNames.Length)
            throw new ArgumentException($"DsqlBulkWriterOptions.Columns names {_options.Columns.Count} columns but the input has {sourceNames.Length} fields.", parameter);
        return _options.Columns.ToArray();
    }

    private static async IAsyncEnumerable<object?[]> Project<T>(IAsyncEnumerable<T> rows, Func<T, object?>[] getters, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (T item in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var values = new object?[getters.Length];
            for (int i = 0; i < getters.Length; i++) values[i] = getters[i](item);
            yield return values;
        }
    }

    private static async IAsyncEnumerable<object?[]> Read(DbDataReader reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var values = new object?[reader.FieldCount];
            reader.GetValues(values!);
            yield return values;
        }
    }

#pragma warning disable CS1998 // a DataTable is in memory: nothing to await
    private static async IAsyncEnumerable<object?[]> Rows(DataTable table)
#pragma warning restore CS1998
    {
        foreach (DataRow row in table.Rows)
            if (row.RowState != DataRowState.Deleted) yield return row.ItemArray;
    }

    private async Task<BulkProgress> RunAsync(string[] columns, IAsyncEnumerable<object?[]> rows, IProgress<BulkProgress>? progress, CancellationToken cancellationToken)
    {
        if (columns.Length > _options.MaxParametersPerStatement)
            throw new ArgumentException($"DsqlBulkWriterOptions.MaxParametersPerStatement ({_options.MaxParametersPerStatement}) is below the number of columns ({columns.Length}).");
        var shape = await BulkTableShape.ResolveAsync(_dataSource, _table, _options, cancellationToken).ConfigureAwait(false);
        if (_options.Mode == BulkWriteMode.Upsert && shape.PrimaryKey.Count == 0)
            throw new InvalidOperationException($"DsqlBulkWriterOptions.Mode Upsert needs a primary key: table {_table} has none; set DsqlBulkWriterOptions.PrimaryKey or use another mode.");
        var statements = new InsertStatements(_table, columns, _options.Mode, shape.PrimaryKey, _options.MaxParametersPerStatement, _options.MaxRowsPerStatement);
        if (_options.WireFormat == BulkWireFormat.BinaryCopy)
        {
            var types = await BulkTableShape.ColumnTypesAsync(_dataSource, _table, cancellationToken).ConfigureAwait(false);
            string? missing = columns.FirstOrDefault(c => !types.ContainsKey(c));
            if (missing is not null) throw new ArgumentException($"Column '{missing}' is not a column of table {_table}.");
            statements.UseBinaryCopy(columns.Select(c => types[c]).ToArray());
        }
        var estimator = new RowSizeEstimator(columns, shape.AllIndexes);
        IReadOnlySet<long> committed = _options.Checkpoint is null
            ? new HashSet<long>()
            : await _options.Checkpoint.GetCommittedChunksAsync(_options.JobId!, cancellationToken).ConfigureAwait(false);

        var run = new LoadState(_options.Table!, progress);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(_options.Parallelism) { SingleWriter = true });
        var writers = Enumerable.Range(0, _options.Parallelism)
            .Select(_ => Task.Run(() => WriteChunksAsync(channel.Reader, statements, run, stop), CancellationToken.None))
            .ToArray();
        try
        {
            await ProduceAsync(rows, columns.Length, estimator, committed, channel.Writer, run, stop.Token).ConfigureAwait(false);
            channel.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            channel.Writer.TryComplete();
            if (!(ex is OperationCanceledException && stop.IsCancellationRequested)) run.Fail(ex, -1, -1);
            await stop.CancelAsync().ConfigureAwait(false);
        }
        await Task.WhenAll(writers).ConfigureAwait(false);

        if (run.Failure is { } failure)
        {
            if (failure.Chunk < 0) throw failure.Error;
            throw new DsqlBulkWriteException(
                $"Chunk {failure.Chunk} (input rows from {failure.FirstRow}) of the load into {_table} failed and was rolled back: {failure.Error.Message}",
                failure.Chunk, failure.FirstRow, run.Snapshot(), failure.Error);
        }
        cancellationToken.ThrowIfCancellationRequested();
        return run.Snapshot();
    }

    private async Task ProduceAsync(IAsyncEnumerable<object?[]> rows, int columnCount, RowSizeEstimator estimator, IReadOnlySet<long> committed, ChannelWriter<Chunk> output, LoadState run, CancellationToken cancellationToken)
    {
        // The checkpoint's record is one more row written in the chunk's transaction: it counts against DSQL's
        // 3,000 rows, and its bytes (job id, numbers, key) against the byte budget.
        bool recorded = _options.Checkpoint is not null;
        int maxRows = Math.Min(_options.MaxRowsPerChunk, DsqlBulkWriterOptions.DsqlMaxRowsPerTransaction - (recorded ? 1 : 0));
        long maxBytes = _options.MaxBytesPerChunk - (recorded ? CheckpointRecordBytes : 0);
        long chunkNumber = 0, rowNumber = 0, firstRow = 0, bytes = 0;
        var buffer = new List<object?[]>();
        long[] scratch = new long[columnCount];

        async ValueTask FlushAsync()
        {
            if (buffer.Count == 0) return;
            var chunk = new Chunk(chunkNumber++, firstRow, buffer.ToArray(), bytes);
            buffer.Clear();
            bytes = 0;
            if (committed.Contains(chunk.Number)) run.Skipped(chunk);
            else await output.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
        }

        await foreach (object?[] row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (row.Length != columnCount)
                throw new InvalidOperationException($"Input row {rowNumber} has {row.Length} values for {columnCount} columns.");
            long size = estimator.Estimate(row, scratch);
            if (size > maxBytes)
                throw new InvalidOperationException($"Input row {rowNumber} is estimated at {size} bytes with its index entries, more than DsqlBulkWriterOptions.MaxBytesPerChunk ({_options.MaxBytesPerChunk}{(recorded ? $" less {CheckpointRecordBytes} for the checkpoint record" : "")}): it cannot be written in a DSQL transaction.");
            if (buffer.Count == maxRows || bytes + size > maxBytes)
                await FlushAsync().ConfigureAwait(false);
            if (buffer.Count == 0) firstRow = rowNumber;
            buffer.Add(row);
            bytes += size;
            rowNumber++;
        }
        await FlushAsync().ConfigureAwait(false);
    }

    private async Task WriteChunksAsync(ChannelReader<Chunk> input, InsertStatements statements, LoadState run, CancellationTokenSource stop)
    {
        try
        {
            while (await input.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (input.TryRead(out var chunk))
                {
                    try
                    {
                        await WriteChunkAsync(chunk, statements, run, stop.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (!(ex is OperationCanceledException && stop.IsCancellationRequested))
                    {
                        run.Fail(ex, chunk.Number, chunk.FirstRow);
                        await stop.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // the load is stopping: the chunk in flight was rolled back
        }
    }

    private async Task WriteChunkAsync(Chunk chunk, InsertStatements statements, LoadState run, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        int attempt = 0;
        bool written;
        try
        {
            written = await _dataSource.ExecuteInTransactionAsync(async (connection, token) =>
            {
                attempt++;
                // Another writer of the same job (a process that took this part of the load over) may have committed
                // the chunk; if both write it at once, their records conflict and the retry lands here.
                if (_options.Checkpoint is { } recorded && await recorded.IsRecordedAsync(connection, _options.JobId!, chunk.Number, token).ConfigureAwait(false))
                    return false;
                await WriteRowsAsync(connection, chunk, statements, attempt, token).ConfigureAwait(false);
                if (_options.Checkpoint is { } checkpoint)
                    await checkpoint.RecordAsync(connection, _options.JobId!, chunk.Number, chunk.Rows.Length, token).ConfigureAwait(false);
                return true;
            }, _options.TransactionOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (_options.Checkpoint is not null && IsUniqueViolation(ex))
        {
            // A key the chunk writes exists: if another writer committed this very chunk, it is done; otherwise the
            // duplicate is real and the load stops on it.
            if (!await IsRecordedAsync(chunk, cancellationToken).ConfigureAwait(false)) throw;
            written = false;
        }
        if (written) run.Committed(chunk, Stopwatch.GetElapsedTime(started));
        else run.Skipped(chunk);
    }

    private static bool IsUniqueViolation(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
            if (e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }) return true;
        return false;
    }

    private Task<bool> IsRecordedAsync(Chunk chunk, CancellationToken cancellationToken)
        => _dataSource.ExecuteInTransactionAsync(
            (connection, token) => _options.Checkpoint!.IsRecordedAsync(connection, _options.JobId!, chunk.Number, token),
            new DsqlTransactionOptions { ReadOnly = true }, cancellationToken);

    private async Task WriteRowsAsync(NpgsqlConnection connection, Chunk chunk, InsertStatements statements, int attempt, CancellationToken token)
    {
        if (statements.CopyTypes is { } types)
        {
            await CopyAsync(connection, chunk, statements.CopySql, types, token).ConfigureAwait(false);
            if (AfterFirstStatement is { } copyHook) await copyHook(connection, chunk.Number, attempt, token).ConfigureAwait(false);
        }
        int offset = statements.CopyTypes is null ? 0 : chunk.Rows.Length;
        while (offset < chunk.Rows.Length)
        {
            int count = Math.Min(statements.RowsPerStatement, chunk.Rows.Length - offset);
            await using var command = new NpgsqlCommand(statements.Sql(count), connection);
            for (int r = offset; r < offset + count; r++)
                foreach (object? value in chunk.Rows[r])
                    command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
            await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            if (offset == 0 && AfterFirstStatement is { } hook) await hook(connection, chunk.Number, attempt, token).ConfigureAwait(false);
            offset += count;
        }
    }

    private static async Task CopyAsync(NpgsqlConnection connection, Chunk chunk, string sql, string[] types, CancellationToken cancellationToken)
    {
        var importer = await connection.BeginBinaryImportAsync(sql, cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            foreach (object?[] row in chunk.Rows)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                for (int i = 0; i < row.Length; i++)
                {
                    if (row[i] is null or DBNull) await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                    else await importer.WriteAsync(row[i], types[i], cancellationToken).ConfigureAwait(false);
                }
            }
            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed record Chunk(long Number, long FirstRow, object?[][] Rows, long Bytes);

    private sealed record ChunkFailure(Exception Error, long Chunk, long FirstRow);

    /// <summary>The counters of one load, shared by its writers; every change and report under one lock.</summary>
    private sealed class LoadState(string table, IProgress<BulkProgress>? progress)
    {
        private readonly object _lock = new();
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly LatencyHistogram _latency = new();
        private readonly KeyValuePair<string, object?> _tag = new(BulkTelemetry.TableTag, table);
        private long _rows, _bytes, _chunks, _skipped, _rowsSkipped;

        public ChunkFailure? Failure { get; private set; }

        public void Fail(Exception error, long chunk, long firstRow)
        {
            lock (_lock) Failure ??= new ChunkFailure(error, chunk, firstRow);
        }

        public void Skipped(Chunk chunk)
        {
            BulkTelemetry.ChunksSkipped.Add(1, _tag);
            lock (_lock)
            {
                _skipped++;
                _rowsSkipped += chunk.Rows.Length;
                progress?.Report(SnapshotLocked());
            }
        }

        public void Committed(Chunk chunk, TimeSpan latency)
        {
            BulkTelemetry.Rows.Add(chunk.Rows.Length, _tag);
            BulkTelemetry.Bytes.Add(chunk.Bytes, _tag);
            BulkTelemetry.Chunks.Add(1, _tag);
            BulkTelemetry.ChunkDuration.Record(latency.TotalSeconds, _tag);
            lock (_lock)
            {
                _rows += chunk.Rows.Length;
                _bytes += chunk.Bytes;
                _chunks++;
                _latency.Add(latency);
                progress?.Report(SnapshotLocked());
            }
        }

        public BulkProgress Snapshot()
        {
            lock (_lock) return SnapshotLocked();
        }

        private BulkProgress SnapshotLocked() => new()
        {
            Rows = _rows,
            Bytes = _bytes,
            Chunks = _chunks,
            ChunksSkipped = _skipped,
            RowsSkipped = _rowsSkipped,
            Elapsed = Stopwatch.GetElapsedTime(_started),
            ChunkLatencyP50 = _latency.Percentile(0.50),
            ChunkLatencyP95 = _latency.Percentile(0.95),
            ChunkLatencyP99 = _latency.Percentile(0.99),
        };
    }
}
