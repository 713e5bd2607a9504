using Dsql.Sync.Cdc;
using Npgsql;

namespace Dsql.Sync.Tests;

/// <summary><see cref="PostgresChangeSource"/> against a real PostgreSQL with <c>wal_level = logical</c>.</summary>
[Collection(LogicalSourceCollection.Name)]
public sealed class ChangeSourceStreamTests(LogicalSourceFixture fixture)
{
    /// <summary>The values as <c>a|b|&lt;null&gt;|&lt;unchanged&gt;</c>.</summary>
    private static string Texts(IReadOnlyList<ChangeValue>? values)
        => values is null ? "<none>" : string.Join("|", values.Select(v => v.IsUnchanged ? "<unchanged>" : v.Text ?? "<null>"));

    [Fact]
    public async Task Mixed_transactions_arrive_whole_in_commit_order_with_increasing_commit_positions()
    {
        string db = await fixture.CreateDatabaseAsync("""
            CREATE TABLE public.items (id int PRIMARY KEY, label text, price numeric(12,2));
            CREATE SCHEMA sales;
            CREATE TABLE sales.lines (order_id bigint, line smallint, note varchar(20), PRIMARY KEY (order_id, line));
            """);
        await using var source = LogicalSourceFixture.Source(db, "public.items", "sales.lines");
        try
        {
            await using (var start = await source.SetUpAsync())
                Assert.True(start.SlotCreated);
            await LogicalSourceFixture.ExecuteAsync(db, """
                BEGIN; INSERT INTO items VALUES (1, 'one', 1.50), (2, NULL, 2); INSERT INTO sales.lines VALUES (7, 1, 'x'); COMMIT;
                BEGIN; UPDATE items SET label = 'uno' WHERE id = 1; DELETE FROM items WHERE id = 2; UPDATE items SET id = 10 WHERE id = 1; COMMIT;
                BEGIN; UPDATE sales.lines SET line = 2, note = 'y' WHERE order_id = 7; INSERT INTO items VALUES (3, 'three', NULL); COMMIT;
                TRUNCATE sales.lines;
                """);

            var transactions = await LogicalSourceFixture.TakeAsync(source, 4);

            Assert.Equal(4, transactions.Count);
            Assert.True(transactions.Zip(transactions.Skip(1)).All(p => p.First.CommitLsn < p.Second.CommitLsn), "commit LSNs increase");
            Assert.Equal(4, transactions.Select(t => t.TransactionId).Distinct().Count());

            var first = transactions[0].Changes;
            Assert.Equal([ChangeKind.Insert, ChangeKind.Insert, ChangeKind.Insert], first.Select(c => c.Kind));
            var items = first[0].Table;
            Assert.Equal("public.items", items.ToString());
            Assert.Equal([new ChangeColumn("id", "integer", true), new ChangeColumn("label", "text", false), new ChangeColumn("price", "numeric(12,2)", false)], items.Columns);
            Assert.Equal("1|one|1.50", Texts(first[0].NewValues));
            Assert.Equal("2|<null>|2.00", Texts(first[1].NewValues));
            Assert.True(first[1].NewValues![1].IsNull);
            Assert.Null(first[0].OldKey);
            var lines = first[2].Table;
            Assert.Equal([new ChangeColumn("order_id", "bigint", true), new ChangeColumn("line", "smallint", true), new ChangeColumn("note", "character varying(20)", false)], lines.Columns);

            var second = transactions[1].Changes;
            Assert.Equal([ChangeKind.Update, ChangeKind.Delete, ChangeKind.Update], second.Select(c => c.Kind));
            Assert.Equal("1|uno|1.50", Texts(second[0].NewValues));
            Assert.Null(second[0].OldKey);
            Assert.Null(second[1].NewValues);
            Assert.Equal("2", Texts(second[1].OldKey));
            Assert.Equal("10|uno|1.50", Texts(second[2].NewValues));
            Assert.Equal("1", Texts(second[2].OldKey));
            Assert.Same(items, second[0].Table);

            var third = transactions[2].Changes;
            Assert.Equal([ChangeKind.Update, ChangeKind.Insert], third.Select(c => c.Kind));
            Assert.Equal("7|2|y", Texts(third[0].NewValues));
            Assert.Equal("7|1", Texts(third[0].OldKey));
            Assert.Same(lines, third[0].Table);
            Assert.Equal("3|three|<null>", Texts(third[1].NewValues));

            var truncate = Assert.Single(transactions[3].Changes);
            Assert.Equal(ChangeKind.Truncate, truncate.Kind);
            Assert.Same(lines, truncate.Table);
            Assert.Null(truncate.NewValues);
        }
        finally
        {
            await source.DropAsync();
        }
    }

    [Fact]
    public async Task An_update_that_leaves_a_large_value_untouched_sends_it_as_unchanged_and_full_identity_keys_by_primary_key()
    {
        string db = await fixture.CreateDatabaseAsync("""
            CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
            ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
            CREATE TABLE logs (at int, message text);
            ALTER TABLE logs REPLICA IDENTITY FULL;
            CREATE TABLE keyed (id int PRIMARY KEY, v text);
            ALTER TABLE keyed REPLICA IDENTITY FULL;
            """);
        await using var source = LogicalSourceFixture.Source(db, "docs", "logs", "keyed");
        try
        {
            await (await source.SetUpAsync()).DisposeAsync();
            await LogicalSourceFixture.ExecuteEachAsync(db,
                "INSERT INTO docs SELECT 1, 'draft', string_agg(md5(i::text), '') FROM generate_series(1, 500) i",
                "UPDATE docs SET title = 'final' WHERE id = 1",
                "BEGIN; INSERT INTO logs VALUES (1, 'a'); UPDATE logs SET message = 'b'; DELETE FROM logs; COMMIT;",
                "BEGIN; INSERT INTO keyed VALUES (1, 'a'); UPDATE keyed SET v = 'b'; UPDATE keyed SET id = 2; DELETE FROM keyed; COMMIT;");

            var transactions = await LogicalSourceFixture.TakeAsync(source, 4);

            var insert = Assert.Single(transactions[0].Changes);
            Assert.Equal(16000, insert.NewValues![2].Text!.Length);
            var update = Assert.Single(transactions[1].Changes);
            Assert.Equal(ChangeKind.Update, update.Kind);
            Assert.Equal("final", update.NewValues![1].Text);
            Assert.True(update.NewValues[2].IsUnchanged);
            Assert.False(update.NewValues[2].IsNull);
            Assert.Null(update.OldKey);

            // No primary key, REPLICA IDENTITY FULL: the whole row is the key.
            var logs = transactions[2].Changes;
            Assert.All(logs[0].Table.Columns, c => Assert.True(c.IsKey));
            Assert.Equal("1|a", Texts(logs[1].OldKey));
            Assert.Equal("1|b", Texts(logs[1].NewValues));
            Assert.Equal("1|b", Texts(logs[2].OldKey));

            // A primary key and REPLICA IDENTITY FULL: the primary key is the key.
            var keyed = transactions[3].Changes;
            Assert.Equal([true, false], keyed[0].Table.Columns.Select(c => c.IsKey));
            Assert.Null(keyed[1].OldKey);
            Assert.Equal("1", Texts(keyed[2].OldKey));
            Assert.Equal("2|b", Texts(keyed[2].NewValues));
            Assert.Equal("2", Texts(keyed[3].OldKey));
        }
        finally
        {
            await source.DropAsync();
        }
    }

    [Fact]
    public async Task A_restart_resends_what_was_not_acknowledged_and_nothing_that_was()
    {
        string db = await fixture.CreateDatabaseAsync("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE extra (id int PRIMARY KEY)");
        await using var source = LogicalSourceFixture.Source(db, "t");
        try
        {
            await (await source.SetUpAsync()).DisposeAsync();
            await LogicalSourceFixture.ExecuteEachAsync(db, "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", "INSERT INTO t VALUES (3)");

            var unacknowledged = await LogicalSourceFixture.TakeAsync(source, 2);
            var again = await LogicalSourceFixture.TakeAsync(source, 2, t => source.Acknowledge(t.CommitLsn));
            Assert.Equal(unacknowledged.Select(t => t.CommitLsn), again.Select(t => t.CommitLsn));
            Assert.Equal("1", Texts(again[0].Changes[0].NewValues));

            var rest = await LogicalSourceFixture.TakeAsync(source, 1);
            Assert.Equal("3", Texts(rest[0].Changes[0].NewValues));
            Assert.True(rest[0].CommitLsn > again[1].CommitLsn);

            // Resuming from a checkpoint's position resends that transaction unless it was acknowledged.
            var fromCheckpoint = await LogicalSourceFixture.TakeAsync(source, 1, fromLsn: rest[0].CommitLsn);
            Assert.Equal(rest[0].CommitLsn, fromCheckpoint[0].CommitLsn);
            source.Acknowledge(rest[0].CommitLsn);

            await LogicalSourceFixture.ExecuteAsync(db, "INSERT INTO t VALUES (4)");
            var next = await LogicalSourceFixture.TakeAsync(source, 1);
            Assert.Equal("4", Texts(next[0].Changes[0].NewValues));

            // A second setup reuses the slot: no snapshot, the stream resumes where the slot stands; a new table is added.
            await using var wider = LogicalSourceFixture.Source(db, "t", "extra");
            await using var reused = await wider.SetUpAsync();
            Assert.False(reused.SlotCreated);
            Assert.Null(reused.SnapshotName);
            Assert.True(reused.StartLsn > rest[0].CommitLsn);
            Assert.Equal(["public.extra"], reused.TablesAdded);
            await using var connection = new NpgsqlConnection(db);
            await connection.OpenAsync();
            await Assert.ThrowsAsync<InvalidOperationException>(() => reused.BeginSnapshotTransactionAsync(connection));
            var resumed = await LogicalSourceFixture.TakeAsync(wider, 1);
            Assert.Equal(next[0].CommitLsn, resumed[0].CommitLsn);
        }
        finally
        {
            await source.DropAsync();
        }
    }

    [Fact]
    public async Task An_idle_stream_confirms_the_log_it_had_nothing_to_send_for_so_the_server_can_recycle_it()
    {
        string db = await fixture.CreateDatabaseAsync("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE other (id int)");
        await using var source = LogicalSourceFixture.Source(db, "t");
        try
        {
            await using (var start = await source.SetUpAsync())
                Assert.True(start.SlotCreated);
            // Two transactions on a table the stream does not carry; the position after the first must be confirmed.
            await LogicalSourceFixture.ExecuteEachAsync(db, "INSERT INTO other VALUES (1)");
            ulong written = await ScalarLsnAsync(db, "SELECT pg_current_wal_lsn()");
            await LogicalSourceFixture.ExecuteEachAsync(db, "INSERT INTO other VALUES (2)");

            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            var stream = Task.Run(async () =>
            {
                try
                {
                    await foreach (var transaction in source.StreamAsync(0, stop.Token))
                        Assert.Fail("nothing of table t was written");
                }
                catch (OperationCanceledException)
                {
                }
            });
            ulong confirmed = 0;
            while (!stop.IsCancellationRequested && confirmed < written)
            {
                await Task.Delay(50);
                confirmed = await ScalarLsnAsync(db, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'dsql_sync_slot'");
            }
            await stop.CancelAsync();
            await stream;
            Assert.True(confirmed >= written, $"confirmed {ChangePosition.Lsn(confirmed)}, written up to {ChangePosition.Lsn(written)}");
        }
        finally
        {
            await source.DropAsync();
        }
    }

    private static async Task<ulong> ScalarLsnAsync(string db, string sql)
    {
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (ulong)(NpgsqlTypes.NpgsqlLogSequenceNumber)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task The_exported_snapshot_and_the_stream_meet_with_no_gap_and_no_overlap_under_concurrent_inserts()
    {
        string db = await fixture.CreateDatabaseAsync("CREATE TABLE t (id int PRIMARY KEY)");
        await using var source = LogicalSourceFixture.Source(db, "t");
        var committed = new List<int>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(db);
            await connection.OpenAsync();
            for (int id = 1; !stop.IsCancellationRequested || id < 60; id += 2)
            {
                await using var insert = new NpgsqlCommand($"INSERT INTO t VALUES ({id}), ({id + 1})", connection);
                await insert.ExecuteNonQueryAsync();
                lock (committed) committed.AddRange([id, id + 1]);
            }
        });
        try
        {
            while (true) { lock (committed) if (committed.Count >= 20) break; await Task.Delay(5); }
            var snapshot = new HashSet<int>();
            await using (var start = await source.SetUpAsync())
            {
                Assert.True(start.SlotCreated);
                await using var reader = new NpgsqlConnection(db);
                await reader.OpenAsync();
                await using var transaction = await start.BeginSnapshotTransactionAsync(reader);
                await using var select = new NpgsqlCommand("SELECT id FROM t", reader, transaction);
                await using var rows = await select.ExecuteReaderAsync();
                while (await rows.ReadAsync()) snapshot.Add(rows.GetInt32(0));
            }
            while (true) { lock (committed) if (committed.Count >= snapshot.Count + 40) break; await Task.Delay(5); }
            await stop.CancelAsync();
            await writer;

            var streamed = new List<int>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await foreach (var transaction in source.StreamAsync(0, timeout.Token))
            {
                streamed.AddRange(transaction.Changes.Select(c => int.Parse(c.NewValues![0].Text!, System.Globalization.CultureInfo.InvariantCulture)));
                if (snapshot.Count + streamed.Count >= committed.Count) break;
            }

            Assert.NotEmpty(snapshot);
            Assert.NotEmpty(streamed);
            Assert.Empty(streamed.Intersect(snapshot));
            Assert.Equal(streamed.Count, streamed.Distinct().Count());
            Assert.Equal(committed.Order(), snapshot.Concat(streamed).Order());
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
            await source.DropAsync();
        }
    }

    [Fact]
    public async Task A_column_added_or_dropped_mid_stream_gives_a_new_table_shape()
    {
        string db = await fixture.CreateDatabaseAsync("CREATE TABLE t (id int PRIMARY KEY, a text)");
        await using var source = LogicalSourceFixture.Source(db, "t");
        try
        {
            await (await source.SetUpAsync()).DisposeAsync();
            await LogicalSourceFixture.ExecuteEachAsync(db,
                "INSERT INTO t VALUES (1, 'x')",
                "INSERT INTO t VALUES (2, 'y')",
                "ALTER TABLE t ADD COLUMN b numeric(5,1)",
                "INSERT INTO t VALUES (3, 'z', 1.5)",
                "ALTER TABLE t DROP COLUMN a",
                "UPDATE t SET b = 2 WHERE id = 1");

            var transactions = await LogicalSourceFixture.TakeAsync(source, 4);

            var before = transactions[0].Changes[0].Table;
            Assert.Same(before, transactions[1].Changes[0].Table);
            var added = transactions[2].Changes[0].Table;
            Assert.NotSame(before, added);
            Assert.Equal(["id", "a", "b"], added.Columns.Select(c => c.Name));
            Assert.Equal("numeric(5,1)", added.Columns[2].SourceType);
            Assert.Equal("3|z|1.5", Texts(transactions[2].Changes[0].NewValues));
            var dropped = transactions[3].Changes[0].Table;
            Assert.Equal(["id", "b"], dropped.Columns.Select(c => c.Name));
            Assert.Equal("1|2.0", Texts(transactions[3].Changes[0].NewValues));
        }
        finally
        {
            await source.DropAsync();
        }
    }
}
