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
}
