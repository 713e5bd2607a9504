using System.Diagnostics.Metrics;
using Dsql.Connector;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Cdc;
using static Dsql.Sync.Tests.ChangeApplierStreams;

namespace Dsql.Sync.Tests;

/// <summary>
/// Batches whose changes are merged into multi-row statements: many changes of few rows, partial updates, key changes,
/// and a secondary unique index that refuses the merged order (the batch is then applied change by change).
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class ChangeApplierGroupingTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    /// <summary>Counts <c>dsql.sync.cdc.retries</c> of one pipeline (a merged batch applied again one change at a time counts one).</summary>
    private sealed class RetryCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public RetryCounter(string pipeline)
        {
            _listener.InstrumentPublished = (instrument, l) => { if (instrument.Name == "dsql.sync.cdc.retries") l.EnableMeasurementEvents(instrument); };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags) if (tag.Value as string == pipeline) Interlocked.Add(ref _count, value);
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>
    /// A random history over 25 keys: inserts of absent rows, full and partial updates (the note unchanged, as TOAST
    /// sends it), key changes (full and partial), deletes; the rows it leaves, as the target must hold them.
    /// </summary>
    private static (List<SourceTransaction> Stream, List<string> Rows) History(ChangeTable t, int seed, int transactions)
    {
        var random = new Random(seed);
        var rows = new Dictionary<int, (string Name, string? Note)>();
        var stream = new List<SourceTransaction>();
        for (int x = 0; x < transactions; x++)
        {
            var changes = new List<RowChange>();
            for (int c = random.Next(1, 12); c > 0; c--)
            {
                int key = random.Next(25);
                string name = $"n{x}.{c}";
                if (!rows.TryGetValue(key, out var row))
                {
                    string? note = random.Next(4) == 0 ? null : $"note{x}";
                    rows[key] = (name, note);
                    changes.Add(Insert(t, key, name, note));
                    continue;
                }
                int to = random.Next(25);
                switch (random.Next(6))
                {
                    case 0:
                        rows.Remove(key);
                        changes.Add(Delete(t, key));
                        break;
                    case 1:
                        rows[key] = (name, row.Note);
                        changes.Add(Update(t, [key, name, ChangeValue.Unchanged]));
                        break;
                    case 2 when !rows.ContainsKey(to):
                        rows.Remove(key);
                        rows[to] = (name, row.Note);
                        changes.Add(Update(t, [to, name, ChangeValue.Unchanged], oldKey: key));
                        break;
                    case 3 when !rows.ContainsKey(to):
                        rows.Remove(key);
                        rows[to] = (name, "moved");
                        changes.Add(Update(t, [to, name, "moved"], oldKey: key));
                        break;
                    default:
                        rows[key] = (name, $"u{x}");
                        changes.Add(Update(t, [key, name, $"u{x}"]));
                        break;
                }
            }
            stream.Add(Transaction(1_000 + (ulong)x * 10, [.. changes]));
        }
        var expected = rows.Select(r => $"{r.Key}|{r.Value.Name}|{r.Value.Note ?? "-"}").Order(StringComparer.Ordinal).ToList();
        return (stream, expected);
    }

    [Fact]
    public async Task Many_changes_of_few_rows_merged_into_multi_row_statements_leave_the_rows_the_source_has()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "merged", "id integer PRIMARY KEY, name text, note text");
        var t = People(table);
        var (stream, expected) = History(t, seed: 14, transactions: 400);
        using var retries = new RetryCounter("merged");
        var applier = Applier(dataSource, "merged", o => o.MaxBatchDelay = TimeSpan.FromMilliseconds(200));
        await applier.EnsureCreatedAsync();
        var progress = new RecordingProgress<ChangeApplyProgress>();

        var final = await applier.ApplyAsync(Stream(stream), progress: progress);

        Assert.Equal(expected, await RowsAsync(dataSource, table));
        Assert.Equal(new ChangePosition(stream[^1].CommitLsn, stream[^1].Changes.Count, true), final);
        Assert.Equal(stream.Sum(s => s.Changes.Count), progress.Reports[^1].Changes);
        Assert.Equal(0, retries.Count); // every batch committed merged: none fell back to one change at a time
    }

    [Fact]
    public async Task The_same_history_sent_change_by_change_with_merging_off_leaves_the_same_rows()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "unmerged", "id integer PRIMARY KEY, name text, note text");
        var (stream, expected) = History(People(table), seed: 14, transactions: 150);
        var applier = Applier(dataSource, "unmerged", o => o.MergeChanges = false);
        await applier.EnsureCreatedAsync();

        await applier.ApplyAsync(Stream(stream));

        Assert.Equal(expected, await RowsAsync(dataSource, table));
    }

    [Fact]
    public async Task Two_rows_swapping_a_unique_value_are_applied_change_by_change_after_the_merged_batch_is_refused()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "swap", "id integer PRIMARY KEY, name text UNIQUE, note text");
        var t = People(table);
        using var retries = new RetryCounter("swap");
        var applier = Applier(dataSource, "swap");
        await applier.EnsureCreatedAsync();
        await applier.ApplyAsync(Stream([Transaction(10, Insert(t, 1, "x", null), Insert(t, 2, "y", null))]));

        // Merged, row 1 takes "y" before row 2 gives it up, which the unique index refuses.
        var final = await applier.ApplyAsync(Stream([
            Transaction(20, Update(t, [1, "tmp", null]), Update(t, [2, "x", null]), Update(t, [1, "y", null]), Insert(t, 3, "z", null)),
        ]));

        Assert.Equal(["1|y|-", "2|x|-", "3|z|-"], await RowsAsync(dataSource, table));
        Assert.Equal(new ChangePosition(20, 4, true), final);
        Assert.True(retries.Count >= 1, "the merged batch should have been refused and applied again");
    }

    [Fact]
    public async Task Four_lanes_apply_a_history_with_key_changes_between_lanes_and_keep_one_position_row_each()
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "lanes", "id integer PRIMARY KEY, name text, note text");
        var t = People(table);
        var (stream, expected) = History(t, seed: 41, transactions: 400);
        stream.Add(Transaction(stream[^1].CommitLsn + 10)); // an empty transaction at the end still moves every lane
        string positions = EmulatorConnections.UniqueName("positions");
        var applier = Applier(dataSource, "lanes", o => { o.Lanes = 4; o.PositionTable = positions; o.MaxChangesPerTransaction = 50; });
        await applier.EnsureCreatedAsync();
        var reported = new List<ChangePosition>();

        var final = await applier.ApplyAsync(Stream(stream), (position, _) => { reported.Add(position); return default; });

        Assert.Equal(expected, await RowsAsync(dataSource, table));
        Assert.Equal(new ChangePosition(stream[^1].CommitLsn, 0, true), final);
        Assert.Equal(final, await applier.GetPositionAsync());
        Assert.Equal(reported.Order(PositionOrder.Instance), reported); // the safe position only moves forward
        Assert.Equal(final, reported[^1]);
        var rows = await RowsAsync(dataSource, positions, "pipeline_id, commit_lsn");
        Assert.Equal(Enumerable.Range(0, 4).Select(k => $"lanes#{k}/4|{final.CommitLsn}").ToList(), rows);
    }

    [Fact]
    public async Task A_run_stopped_with_four_lanes_and_resumed_with_two_then_one_applies_every_change_once()
    {
        // Inserts into a table without key are plain INSERTs: a change applied twice shows as a second row.
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "relane", "id integer, name text, note text");
        var t = People(table);
        var stream = Enumerable.Range(1, 200).Select(n => Transaction((ulong)n * 10, Enumerable.Range(0, 5).Select(i => Insert(t, n * 10 + i, "x" + n, null)).ToArray())).ToList();
        string positions = EmulatorConnections.UniqueName("positions");
        void Configure(DsqlChangeApplierOptions o, int lanes) { o.Lanes = lanes; o.PositionTable = positions; o.MaxChangesPerTransaction = 20; }
        await Applier(dataSource, "relane", o => Configure(o, 4)).EnsureCreatedAsync();
        using var cancel = new CancellationTokenSource();
        int commits = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Applier(dataSource, "relane", o => Configure(o, 4)).ApplyAsync(Stream(stream), (_, _) =>
        {
            if (++commits == 12) cancel.Cancel(); // lanes stop wherever each of them is
            return default;
        }, cancellationToken: cancel.Token));
        long afterFirst = await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}");
        var stored = await RowsAsync(dataSource, positions, "pipeline_id, commit_lsn");
        Assert.InRange(afterFirst, 1, 999);
        Assert.Equal(4, stored.Count);

        var two = Applier(dataSource, "relane", o => Configure(o, 2));
        var stopped = await two.GetPositionAsync();
        await two.ApplyAsync(Stream(stream.Take(150)));
        var final = await Applier(dataSource, "relane", o => Configure(o, 1)).ApplyAsync(Stream(stream));

        Assert.True(stopped.CommitLsn * 5 / 10 <= (ulong)afterFirst, $"{stopped} claims more than the {afterFirst} rows written");
        Assert.Equal(1_000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        Assert.Equal(1_000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(DISTINCT id) FROM {table}"));
        Assert.Equal(new ChangePosition(2_000, 5, true), final);
        Assert.Equal(["relane|2000"], await RowsAsync(dataSource, positions, "pipeline_id, commit_lsn")); // the older layouts are gone
    }

    /// <summary>Orders positions as the stream does.</summary>
    private sealed class PositionOrder : IComparer<ChangePosition>
    {
        public static readonly PositionOrder Instance = new();

        public int Compare(ChangePosition a, ChangePosition b)
            => a.CommitLsn != b.CommitLsn ? a.CommitLsn.CompareTo(b.CommitLsn) : a.Complete != b.Complete ? a.Complete.CompareTo(b.Complete) : a.Applied.CompareTo(b.Applied);
    }
}
