using System.Diagnostics.Metrics;
using Dsql.Sync.Bulk;

namespace Dsql.Sync.Cdc;

/// <summary>
/// The change applier's and the change source's instruments on the <c>Dsql.Sync</c> meter. Tags carry a kind, a
/// category, an outcome, a pipeline id or a slot name, never a value.
/// </summary>
internal static class CdcTelemetry
{
    public const string PipelineTag = "dsql.sync.pipeline";
    public const string KindTag = "dsql.sync.change.kind";
    public const string CategoryTag = "error.category";
    public const string SlotTag = "dsql.sync.slot";
    public const string OutcomeTag = "dsql.sync.transaction.outcome";

    private static readonly Meter Meter = BulkTelemetry.Meter;

    /// <summary>
    /// Bucket boundaries advised for the histograms in seconds (1 ms to 300 s, DSQL's transaction age limit), as the
    /// connector advises for its own: exporters' default boundaries are meant for milliseconds.
    /// </summary>
    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    public static readonly Counter<long> Changes = Meter.CreateCounter<long>("dsql.sync.cdc.changes", "{change}", "Changes applied to DSQL, by kind.");
    public static readonly Counter<long> Transactions = Meter.CreateCounter<long>("dsql.sync.cdc.transactions", "{transaction}", "DSQL transactions committed by change appliers.");
    public static readonly Histogram<double> ApplyDuration = Seconds("dsql.sync.cdc.apply.duration", "Time to send one batch's statements (the attempt that committed).");
    public static readonly Histogram<double> CommitDuration = Seconds("dsql.sync.cdc.commit.duration", "Time from the end of a batch's statements to its commit on DSQL.");
    public static readonly Histogram<double> Lag = Seconds("dsql.sync.cdc.lag", "End-to-end lag: source commit to DSQL commit of the batch's last transaction.");
    public static readonly Counter<long> Errors = Meter.CreateCounter<long>("dsql.sync.cdc.errors", "{error}", "Failed attempts to apply changes, by category (conflict, connection, ambiguous_commit, data, constraint, limit, schema, other).");
    public static readonly Counter<long> Retries = Meter.CreateCounter<long>("dsql.sync.cdc.retries", "{retry}", "Batches run again: conflicts and lost connections retried, ambiguous commits resolved, batches split around a refused change.");
    public static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("dsql.sync.cdc.dead_letters", "{change}", "Changes written to the dead-letter table.");

    // The source side (PostgresChangeSource): what arrives from the slot, before the applier.
    public static readonly Counter<long> SourceMessages = Meter.CreateCounter<long>("dsql.sync.cdc.source.messages", "{message}", "pgoutput messages received from the slot (begin, relation, row changes, commit, ...).");
    public static readonly Counter<long> SourceBytes = Meter.CreateCounter<long>("dsql.sync.cdc.source.bytes", "By", "Bytes of column values received, in PostgreSQL's text form (message framing not counted).");
    public static readonly Counter<long> SourceTransactions = Meter.CreateCounter<long>("dsql.sync.cdc.source.transactions", "{transaction}", "Source transactions received, by outcome (delivered: handed to the consumer; empty: nothing for the streamed tables).");
    public static readonly Counter<long> SourceChanges = Meter.CreateCounter<long>("dsql.sync.cdc.source.changes", "{change}", "Row changes received in delivered transactions, by kind.");
    public static readonly Histogram<double> SourceLag = Seconds("dsql.sync.cdc.source.lag", "Receive lag: a delivered transaction's commit time at the source to the arrival of its commit message (0 when the clocks disagree).");
    public static readonly Counter<long> SourceConnects = Meter.CreateCounter<long>("dsql.sync.cdc.source.connects", "{connection}", "Replication connections opened by streams; after the first, each is a reconnect.");
    public static readonly Counter<long> SourceErrors = Meter.CreateCounter<long>("dsql.sync.cdc.source.errors", "{error}", "Streams ended by an error, by category (slot, connection, server, decode, other).");
    public static readonly ObservableGauge<long> SourceReceivedLsn = Meter.CreateObservableGauge("dsql.sync.cdc.source.lsn.received", () => SourceTelemetry.Observe(SourcePosition.Received), "By", "The last WAL position received from the server (an LSN, a byte position in the WAL), while a stream runs.");
    public static readonly ObservableGauge<long> SourceAcknowledgedLsn = Meter.CreateObservableGauge("dsql.sync.cdc.source.lsn.acknowledged", () => SourceTelemetry.Observe(SourcePosition.Acknowledged), "By", "The commit LSN of the last transaction the consumer acknowledged as applied, while a stream runs.");
    public static readonly ObservableGauge<long> SourceConfirmedLsn = Meter.CreateObservableGauge("dsql.sync.cdc.source.lsn.confirmed", () => SourceTelemetry.Observe(SourcePosition.Confirmed), "By", "The position confirmed to the server (status updates' flush LSN): the slot keeps WAL from here on, while a stream runs.");

    private static Histogram<double> Seconds(string name, string description)
#if NET9_0_OR_GREATER
        => Meter.CreateHistogram(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
#else
        => Meter.CreateHistogram<double>(name, "s", description);
#endif
}
