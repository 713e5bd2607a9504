using System.Diagnostics.Metrics;
using Dsql.Sync.Bulk;

namespace Dsql.Sync.Cdc;

/// <summary>
/// The change applier's instruments on the <c>Dsql.Sync</c> meter. Tags carry a kind, a category or a pipeline id,
/// never a value.
/// </summary>
internal static class CdcTelemetry
{
    public const string PipelineTag = "dsql.sync.pipeline";
    public const string KindTag = "dsql.sync.change.kind";
    public const string CategoryTag = "error.category";

    private static readonly Meter Meter = BulkTelemetry.Meter;

    public static readonly Counter<long> Changes = Meter.CreateCounter<long>("dsql.sync.cdc.changes", "{change}", "Changes applied to DSQL, by kind.");
    public static readonly Counter<long> Transactions = Meter.CreateCounter<long>("dsql.sync.cdc.transactions", "{transaction}", "DSQL transactions committed by change appliers.");
    public static readonly Histogram<double> ApplyDuration = Meter.CreateHistogram<double>("dsql.sync.cdc.apply.duration", "s", "Time to send one batch's statements (the attempt that committed).");
    public static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>("dsql.sync.cdc.commit.duration", "s", "Time from the end of a batch's statements to its commit on DSQL.");
    public static readonly Histogram<double> Lag = Meter.CreateHistogram<double>("dsql.sync.cdc.lag", "s", "End-to-end lag: source commit to DSQL commit of the batch's last transaction.");
    public static readonly Counter<long> Errors = Meter.CreateCounter<long>("dsql.sync.cdc.errors", "{error}", "Failed attempts to apply changes, by category (conflict, connection, ambiguous_commit, data, constraint, limit, schema, other).");
    public static readonly Counter<long> Retries = Meter.CreateCounter<long>("dsql.sync.cdc.retries", "{retry}", "Batches run again: conflicts and lost connections retried, ambiguous commits resolved, batches split around a refused change.");
    public static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("dsql.sync.cdc.dead_letters", "{change}", "Changes written to the dead-letter table.");
}
