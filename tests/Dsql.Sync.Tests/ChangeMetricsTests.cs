using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Dsql.Emulator.Tests.Infrastructure;
using Dsql.Sync.Cdc;

namespace Dsql.Sync.Tests;

/// <summary>
/// The change pipeline's metrics, recorded by a <see cref="MeterListener"/> while a real source (PostgreSQL with
/// <c>wal_level = logical</c>) streams into the applier writing to the emulator.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class ChangeMetricsTests(BackendFixture backend, BulkTestEmulator emulator, LogicalSourceFixture logical)
    : IClassFixture<BulkTestEmulator>, IClassFixture<LogicalSourceFixture>
{
    [Fact]
    public async Task Source_and_applier_metrics_count_what_was_written_with_sane_lag_and_an_advancing_acknowledged_position()
    {
        var target = await emulator.DataSourceAsync(backend);
        string table = await BulkTestEmulator.CreateTableAsync(target, "metered", "id integer PRIMARY KEY, qty integer NOT NULL, note text");
        string db = await logical.CreateDatabaseAsync($"CREATE TABLE {table} (id integer PRIMARY KEY, qty integer NOT NULL, note text);");
        string pipeline = EmulatorConnections.UniqueName("metrics");
        string missingPipeline = pipeline + "_missing";
        using var recorded = new RecordedMeasurements(pipeline, missingPipeline);

        // Three source transactions, each written once the one before is applied, so each is its own DSQL batch.
        string[] writes =
        [
            $"INSERT INTO {table} SELECT g, g * 10, 'note ' || g FROM generate_series(1, 5) g",
            $"BEGIN; UPDATE {table} SET qty = qty + 1 WHERE id IN (1, 2); DELETE FROM {table} WHERE id = 3; COMMIT;",
            $"INSERT INTO {table} VALUES (6, 60, NULL)",
        ];
        // Text bytes of the values pgoutput sends: 5 rows of (1 + 2 + 6); 2 updated rows of (1 + 2 + 6); the deleted
        // row's key (1, its other columns are sent as NULL); 1 + 2 for the last row (its note is NULL).
        const long valueBytes = 45 + 18 + 1 + 3;
        // Begin and commit of each transaction, the table's relation message (once), one message per row change.
        const long messages = 3 * 2 + 1 + 9;

        var sourceOptions = new PostgresChangeSourceOptions
        {
            ConnectionString = db, PublicationName = pipeline, SlotName = pipeline, StatusInterval = TimeSpan.FromMilliseconds(50), PipelineId = pipeline,
        };
        sourceOptions.Tables.Add("public." + table);
        await using var source = new PostgresChangeSource(sourceOptions);
        var applier = ChangeApplierStreams.Applier(target, pipeline);
        await applier.EnsureCreatedAsync();
        try
        {
            await using (await source.SetUpAsync()) { }
            await LogicalSourceFixture.ExecuteAsync(db, writes[0]);

            var commits = new List<ulong>();
            var gauges = new List<(long Received, long Acknowledged, long Confirmed)>();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await applier.ApplyAsync(source.StreamAsync(0, stop.Token), async (committed, token) =>
                {
                    Assert.True(committed.Complete);
                    source.Acknowledge(committed.CommitLsn);
                    commits.Add(committed.CommitLsn);
                    gauges.Add(recorded.ReadGauges());
                    if (commits.Count < writes.Length) await LogicalSourceFixture.ExecuteAsync(db, writes[commits.Count]);
                    else await stop.CancelAsync();
                }, cancellationToken: stop.Token);
            }
            catch (OperationCanceledException) when (commits.Count == writes.Length)
            {
                // Stopped after the last transaction.
            }
            Assert.Equal(writes.Length, commits.Count);
            Assert.Equal(5L, await BulkTestEmulator.ScalarAsync<long>(target, $"SELECT count(*) FROM {table}"));

            // The source side.
            Assert.Equal(3, recorded.Sum("dsql.sync.cdc.source.transactions", pipeline, ("dsql.sync.transaction.outcome", "delivered")));
            Assert.Equal(0, recorded.Sum("dsql.sync.cdc.source.transactions", pipeline, ("dsql.sync.transaction.outcome", "empty")));
            Assert.Equal(6, recorded.Sum("dsql.sync.cdc.source.changes", pipeline, ("dsql.sync.change.kind", "insert")));
            Assert.Equal(2, recorded.Sum("dsql.sync.cdc.source.changes", pipeline, ("dsql.sync.change.kind", "update")));
            Assert.Equal(1, recorded.Sum("dsql.sync.cdc.source.changes", pipeline, ("dsql.sync.change.kind", "delete")));
            Assert.Equal(messages, recorded.Sum("dsql.sync.cdc.source.messages", pipeline));
            Assert.Equal(valueBytes, recorded.Sum("dsql.sync.cdc.source.bytes", pipeline));
            Assert.Equal(1, recorded.Sum("dsql.sync.cdc.source.connects", pipeline));
            Assert.Equal(0, recorded.Count("dsql.sync.cdc.source.errors", pipeline));
            var receiveLag = recorded.Values("dsql.sync.cdc.source.lag", pipeline);
            Assert.Equal(3, receiveLag.Count);
            Assert.All(receiveLag, lag => Assert.InRange(lag, 0, 30));
            Assert.All(recorded.Tags("dsql.sync.cdc.source.messages", pipeline), tags => Assert.Equal(pipeline, tags[CdcTelemetry.SlotTag]));

            // The positions, read right after each acknowledgement: the acknowledged one is the commit just applied,
            // the confirmed one past it (further when the idle advance ran), the received one no earlier; they advance.
            Assert.Equal(commits.Select(c => (long)c), gauges.Select(g => g.Acknowledged));
            Assert.All(gauges, g => Assert.True(g.Confirmed > g.Acknowledged && g.Received >= g.Acknowledged, $"positions {g}"));
            Assert.True(gauges.Zip(gauges.Skip(1)).All(p => p.Second.Acknowledged > p.First.Acknowledged && p.Second.Received > p.First.Received), "positions advance");

            // The applier's side: events processed, apply and commit latency, end-to-end lag, errors, retries.
            Assert.Equal(6, recorded.Sum("dsql.sync.cdc.changes", pipeline, ("dsql.sync.change.kind", "insert")));
            Assert.Equal(2, recorded.Sum("dsql.sync.cdc.changes", pipeline, ("dsql.sync.change.kind", "update")));
            Assert.Equal(1, recorded.Sum("dsql.sync.cdc.changes", pipeline, ("dsql.sync.change.kind", "delete")));
            Assert.Equal(commits.Count, recorded.Sum("dsql.sync.cdc.transactions", pipeline));
            foreach (var name in new[] { "dsql.sync.cdc.apply.duration", "dsql.sync.cdc.commit.duration", "dsql.sync.cdc.lag" })
            {
                var values = recorded.Values(name, pipeline);
                Assert.Equal(commits.Count, values.Count);
                Assert.All(values, value => Assert.InRange(value, 0, 30));
            }
            Assert.Equal(0, recorded.Count("dsql.sync.cdc.errors", pipeline));
            Assert.Equal(0, recorded.Count("dsql.sync.cdc.retries", pipeline));
            Assert.Equal(0, recorded.Count("dsql.sync.cdc.dead_letters", pipeline));

            // A stream that cannot start counts an error of its category and no connection.
            var missingOptions = new PostgresChangeSourceOptions { ConnectionString = db, PublicationName = pipeline, SlotName = missingPipeline, PipelineId = missingPipeline };
            missingOptions.Tables.Add("public." + table);
            await using var missing = new PostgresChangeSource(missingOptions);
            await Assert.ThrowsAsync<ChangeSourceException>(async () =>
            {
                await foreach (var _ in missing.StreamAsync()) { }
            });
            Assert.Equal(1, recorded.Sum("dsql.sync.cdc.source.errors", missingPipeline, ("error.category", "slot")));
            Assert.Equal(0, recorded.Count("dsql.sync.cdc.source.connects", missingPipeline));
        }
        finally
        {
            await source.DropAsync();
        }
    }

    [Fact]
    public void Source_errors_fall_in_their_categories()
    {
        Assert.Equal("slot", SourceTelemetry.Category(new ChangeSourceException([new(ChangeSourceProblemKind.Slot, "gone")])));
        Assert.Equal("server", SourceTelemetry.Category(new Npgsql.PostgresException("slot in use", "ERROR", "ERROR", "55006")));
        Assert.Equal("connection", SourceTelemetry.Category(new Npgsql.NpgsqlException("lost", new IOException("reset"))));
        Assert.Equal("connection", SourceTelemetry.Category(new IOException("reset")));
        Assert.Equal("decode", SourceTelemetry.Category(new NotSupportedException("binary value")));
        Assert.Equal("other", SourceTelemetry.Category(new InvalidOperationException("streaming already")));
    }

    [Fact]
    public void The_histograms_in_seconds_advise_second_sized_buckets()
    {
        foreach (var histogram in new[] { CdcTelemetry.ApplyDuration, CdcTelemetry.CommitDuration, CdcTelemetry.Lag, CdcTelemetry.SourceLag })
        {
            Assert.Equal("s", histogram.Unit);
            var buckets = histogram.Advice?.HistogramBucketBoundaries;
            Assert.NotNull(buckets);
            Assert.Equal(0.001, buckets[0]);
            Assert.Equal(300, buckets[^1]);
        }
    }

    /// <summary>Every measurement of the <c>Dsql.Sync</c> meter's change instruments tagged with one of the given pipelines.</summary>
    private sealed class RecordedMeasurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly HashSet<string> _pipelines;
        private readonly ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)> _measurements = new();

        public RecordedMeasurements(params string[] pipelines)
        {
            _pipelines = [.. pipelines];
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Dsql.Sync" && instrument.Name.StartsWith("dsql.sync.cdc.", StringComparison.Ordinal))
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.Start();
        }

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var map = new Dictionary<string, object?>();
            foreach (var tag in tags) map[tag.Key] = tag.Value;
            if (map.GetValueOrDefault(CdcTelemetry.PipelineTag) is string pipeline && _pipelines.Contains(pipeline))
                _measurements.Enqueue((instrument.Name, value, map));
        }

        private IEnumerable<(string Name, double Value, Dictionary<string, object?> Tags)> Of(string name, string pipeline, (string Key, string Value)? tag = null)
            => _measurements.Where(m => m.Name == name && (string?)m.Tags[CdcTelemetry.PipelineTag] == pipeline
                && (tag is not { } t || (string?)m.Tags.GetValueOrDefault(t.Key) == t.Value));

        public long Sum(string name, string pipeline, (string Key, string Value)? tag = null) => (long)Of(name, pipeline, tag).Sum(m => m.Value);

        public int Count(string name, string pipeline) => Of(name, pipeline).Count();

        public List<double> Values(string name, string pipeline) => Of(name, pipeline).Select(m => m.Value).ToList();

        public List<Dictionary<string, object?>> Tags(string name, string pipeline) => Of(name, pipeline).Select(m => m.Tags).ToList();

        /// <summary>The source's three position gauges, read now.</summary>
        public (long Received, long Acknowledged, long Confirmed) ReadGauges()
        {
            int before = _measurements.Count;
            _listener.RecordObservableInstruments();
            var read = _measurements.Skip(before).ToList();
            long Last(string name) => (long)read.Last(m => m.Name == name).Value;
            return (Last("dsql.sync.cdc.source.lsn.received"), Last("dsql.sync.cdc.source.lsn.acknowledged"), Last("dsql.sync.cdc.source.lsn.confirmed"));
        }

        public void Dispose() => _listener.Dispose();
    }
}
