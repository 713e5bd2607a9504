using Dsql.Connector;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Cdc;
using static Dsql.Sync.Tests.ChangeApplierStreams;

namespace Dsql.Sync.Tests;

/// <summary>The change applier against the emulator: order, batching, splitting, positions, resumption.</summary>
[Collection(BackendCollection.Name)]
public sealed class ChangeApplierTests(BackendFixture backend, BulkTestEmulator emulator) : IClassFixture<BulkTestEmulator>
{
    private static List<string> Sorted(params string[] rows) => rows.Order(StringComparer.Ordinal).ToList();

    private async Task<(DsqlDataSource DataSource, string Table, ChangeTable Shape)> PeopleAsync(bool key = true)
    {
        var dataSource = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(dataSource, "people", key ? "id integer PRIMARY KEY, name text, note text" : "id integer, name text, note text");
        return (dataSource, table, People(table));
    }

    [Fact]
    public async Task Mixed_changes_in_one_and_in_several_transactions_give_the_expected_rows_and_report_only_committed_positions()
    {
        var (dataSource, table, t) = await PeopleAsync();
        var applier = Applier(dataSource, "mixed");
        await applier.EnsureCreatedAsync();
        var stream = new[]
        {
            // One transaction with every kind: insert, update, key update, delete, and an update of a key-updated row.
            Transaction(100, Insert(t, 1, "ann", "a"), Insert(t, 2, "bob", "b"), Insert(t, 3, "cy", "c"),
                Update(t, [2, "bob2", "b"]), Update(t, [20, "bob2", "b"], oldKey: 2), Delete(t, 3), Update(t, [20, "bob3", "b"])),
            Transaction(200, Insert(t, 4, "dee", null)),
            Transaction(300, Update(t, [1, "ann", "a2"]), Insert(t, 3, "cy again", "c")),
            Transaction(400),
            Transaction(500, Update(t, [5, "ann", "a2"], oldKey: 1), Delete(t, 4)),
        };
        var reported = new List<(ChangePosition Reported, ChangePosition Stored)>();

        var final = await applier.ApplyAsync(Stream(stream), async (position, token) => reported.Add((position, await applier.GetPositionAsync(token))));

        Assert.Equal(Sorted("20|bob3|b", "3|cy again|c", "5|ann|a2"), await RowsAsync(dataSource, table));
        Assert.Equal(new ChangePosition(500, 2, true), final);
        Assert.Equal(final, await applier.GetPositionAsync());
        Assert.NotEmpty(reported);
        Assert.All(reported, r => Assert.Equal(r.Reported, r.Stored));
        Assert.Equal(final, reported[^1].Reported);
    }

    [Fact]
    public async Task A_10000_change_source_transaction_is_split_with_its_position_recorded_inside_it()
    {
        var (dataSource, table, t) = await PeopleAsync();
        var applier = Applier(dataSource, "split");
        await applier.EnsureCreatedAsync();
        var changes = Enumerable.Range(0, 10_000).Select(i => Insert(t, i, "n" + i, null)).ToArray();
        var reported = new List<ChangePosition>();

        await applier.ApplyAsync(Stream([Transaction(7_000, changes)]), (position, _) => { reported.Add(position); return default; });

        Assert.Equal(10_000L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        Assert.True(reported.Count >= 4, $"{reported.Count} commits"); // 3,000 rows per DSQL transaction at most
        Assert.All(reported[..^1], p => Assert.False(p.Complete));
        Assert.Equal(reported.Select(p => p.Applied).Order(), reported.Select(p => p.Applied));
        Assert.Equal(new ChangePosition(7_000, 10_000, true), reported[^1]);
    }

    [Fact]
    public async Task Reapplying_the_stream_from_an_earlier_position_changes_and_doubles_nothing()
    {
        // A table without key takes inserts only, as plain INSERTs: any change applied twice would show as a duplicate.
        var (dataSource, table, t) = await PeopleAsync(key: false);
        var applier = Applier(dataSource, "again", o => o.MaxChangesPerTransaction = 3);
        await applier.EnsureCreatedAsync();
        var all = Enumerable.Range(1, 6).Select(n => Transaction((ulong)n * 10, Enumerable.Range(0, 4).Select(i => Insert(t, n * 10 + i, "x", null)).ToArray())).ToList();
        await applier.ApplyAsync(Stream(all.Take(3)));
        var first = await RowsAsync(dataSource, table);

        // As after a crash: the source sends again from before the stored position (which is inside no transaction here).
        await applier.ApplyAsync(Stream(all.Take(3)));
        Assert.Equal(first, await RowsAsync(dataSource, table));
        var final = await applier.ApplyAsync(Stream(all));

        Assert.Equal(24, (await RowsAsync(dataSource, table)).Distinct().Count());
        Assert.Equal(24L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));
        Assert.Equal(new ChangePosition(60, 4, true), final);
    }

    [Fact]
    public async Task A_cancelled_apply_resumed_from_its_stored_position_ends_equal()
    {
        var (dataSource, table, t) = await PeopleAsync(key: false);
        var applier = Applier(dataSource, "resume", o => o.MaxChangesPerTransaction = 7);
        await applier.EnsureCreatedAsync();
        var all = new[]
        {
            Transaction(10, Enumerable.Range(0, 30).Select(i => Insert(t, i, "big", null)).ToArray()),
            Transaction(20, Enumerable.Range(30, 5).Select(i => Insert(t, i, "small", null)).ToArray()),
        };
        using var cancel = new CancellationTokenSource();
        int commits = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => applier.ApplyAsync(Stream(all), (position, _) =>
        {
            if (++commits == 2) cancel.Cancel(); // inside the 30-change transaction
            return default;
        }, cancellationToken: cancel.Token));
        var stopped = await applier.GetPositionAsync();
        Assert.Equal(new ChangePosition(10, 14, false), stopped);
        Assert.Equal(14L, await BulkTestEmulator.ScalarAsync<long>(dataSource, $"SELECT count(*) FROM {table}"));

        await applier.ApplyAsync(Stream(all));

        Assert.Equal(Enumerable.Range(0, 35).Select(i => $"{i}|{(i < 30 ? "big" : "small")}|-").Order(StringComparer.Ordinal), await RowsAsync(dataSource, table));
    }

    [Fact]
    public async Task A_batch_commits_when_the_stream_pauses()
    {
        var (dataSource, table, t) = await PeopleAsync();
        var applier = Applier(dataSource, "pause");
        await applier.EnsureCreatedAsync();
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async IAsyncEnumerable<SourceTransaction> Paused()
        {
            yield return Transaction(10, Insert(t, 1, "first", null));
            await released.Task; // the source has nothing more until the first transaction is acknowledged
            yield return Transaction(20, Insert(t, 2, "second", null));
        }

        await applier.ApplyAsync(Paused(), (position, _) => { released.TrySetResult(); return default; }).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Sorted("1|first|-", "2|second|-"), await RowsAsync(dataSource, table));
    }

    [Fact]
    public async Task An_update_with_unchanged_TOAST_values_keeps_them()
    {
        var (dataSource, table, t) = await PeopleAsync();
        var applier = Applier(dataSource, "toast");
        await applier.EnsureCreatedAsync();
        string large = new('z', 5_000);

        await applier.ApplyAsync(Stream([
            Transaction(10, Insert(t, 1, "ann", large), Insert(t, 2, "bob", large)),
            Transaction(20, Update(t, [1, "ann2", ChangeValue.Unchanged]), Update(t, [3, "bob2", ChangeValue.Unchanged], oldKey: 2)),
        ]));

        Assert.Equal(Sorted($"1|ann2|{large}", $"3|bob2|{large}"), await RowsAsync(dataSource, table));
    }

    [Fact]
    public async Task A_truncate_deletes_every_row_in_chunks_then_later_changes_apply()
    {
        var (dataSource, table, t) = await PeopleAsync();
        var applier = Applier(dataSource, "truncate", o => o.MaxChangesPerTransaction = 7);
        await applier.EnsureCreatedAsync();
        var reported = new List<ChangePosition>();

        await applier.ApplyAsync(Stream([
            Transaction(10, Enumerable.Range(0, 30).Select(i => Insert(t, i, "old", null)).ToArray()),
            Transaction(20, Insert(t, 100, "gone", null), Truncate(t), Insert(t, 1, "new", null)),
        ]), (position, _) => { reported.Add(position); return default; });

        Assert.Equal(Sorted("1|new|-"), await RowsAsync(dataSource, table));
        Assert.Contains(new ChangePosition(20, 2, false), reported);
        Assert.Equal(new ChangePosition(20, 3, true), reported[^1]);
    }

    [Fact]
    public async Task Updates_on_a_table_without_key_are_refused_by_name()
    {
        var (dataSource, table, t) = await PeopleAsync(key: false);
        var applier = Applier(dataSource, "keyless");
        await applier.EnsureCreatedAsync();

        var error = await Assert.ThrowsAsync<ChangeApplyException>(() => applier.ApplyAsync(Stream([
            Transaction(10, Insert(t, 1, "ann", null)),
            Transaction(20, Update(t, [1, "ann2", null])),
        ])));

        Assert.Contains("no primary key", error.Message);
        Assert.Equal(ChangeKind.Update, error.Kind);
        Assert.Equal(20UL, error.CommitLsn);
        Assert.Equal(Sorted("1|ann|-"), await RowsAsync(dataSource, table));
    }

    [Fact]
    public async Task A_second_applier_of_the_same_pipeline_is_detected_before_it_writes()
    {
        var (dataSource, table, t) = await PeopleAsync();
        string positions = EmulatorConnections.UniqueName("positions");
        var first = Applier(dataSource, "twice", o => o.PositionTable = positions);
        await first.EnsureCreatedAsync();
        var second = Applier(dataSource, "twice", o => o.PositionTable = positions);

        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async IAsyncEnumerable<SourceTransaction> Interleaved()
        {
            yield return Transaction(10, Insert(t, 1, "by first", null));
            // Once the first applier has committed that, the second one moves the pipeline on.
            await committed.Task;
            await second.ApplyAsync(Stream([Transaction(20, Insert(t, 2, "by second", null))]));
            yield return Transaction(30, Update(t, [2, "overwritten", null]));
        }

        var error = await Assert.ThrowsAsync<ChangeApplyException>(() => first.ApplyAsync(Interleaved(), (_, _) => { committed.TrySetResult(); return default; }));

        Assert.Contains("another applier", error.Message);
        Assert.Equal(new ChangePosition(20, 1, true), await first.GetPositionAsync());
        Assert.Equal(Sorted("1|by first|-", "2|by second|-"), await RowsAsync(dataSource, table));
    }

    [Fact]
    public void Options_are_checked_by_name()
    {
        var dataSource = (DsqlDataSource)null!;
        Assert.Throws<ArgumentNullException>(() => new DsqlChangeApplier(dataSource, new DsqlChangeApplierOptions()));
        var options = new DsqlChangeApplierOptions();
        Assert.Equal(nameof(DsqlChangeApplierOptions.PipelineId), Assert.Throws<ArgumentException>(() => options.Validate()).ParamName);
        options.PipelineId = "p";
        options.MaxChangesPerTransaction = 3_000;
        Assert.Equal(nameof(DsqlChangeApplierOptions.MaxChangesPerTransaction), Assert.Throws<ArgumentException>(() => options.Validate()).ParamName);
        options.MaxChangesPerTransaction = 10;
        options.MaxBatchDelay = TimeSpan.FromMinutes(1);
        Assert.Equal(nameof(DsqlChangeApplierOptions.MaxBatchDelay), Assert.Throws<ArgumentException>(() => options.Validate()).ParamName);
        options.MaxBatchDelay = TimeSpan.Zero;
        foreach (int lanes in new[] { 0, 65 })
        {
            options.Lanes = lanes;
            Assert.Equal(nameof(DsqlChangeApplierOptions.Lanes), Assert.Throws<ArgumentException>(() => options.Validate()).ParamName);
        }
        options.Lanes = 64;
        options.Validate();
    }
}
