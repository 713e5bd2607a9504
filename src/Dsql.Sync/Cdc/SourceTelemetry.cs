using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Npgsql;
using Npgsql.Replication;

namespace Dsql.Sync.Cdc;

/// <summary>Which position a source gauge reports.</summary>
internal enum SourcePosition
{
    Received,
    Acknowledged,
    Confirmed,
}

/// <summary>
/// The measurements of one <see cref="PostgresChangeSource"/>: its tags, built once; the tallies of the transaction
/// being received, added to the counters when its commit arrives (one addition per instrument and transaction, not
/// one per message); and, while a stream runs, the positions its gauges report.
/// </summary>
/// <remarks>
/// The tallies are touched only by the stream (one at a time per source); the gauges read the positions from the
/// collector's thread through the tracker's lock and a 64-bit read of Npgsql's <see cref="ReplicationConnection.LastReceivedLsn"/>.
/// </remarks>
internal sealed class SourceTelemetry
{
    /// <summary>The sources whose stream runs now: the gauges report each of them.</summary>
    private static readonly ConcurrentDictionary<SourceTelemetry, byte> Streaming = new();

    private readonly AcknowledgementTracker _tracker;
    private readonly TagList _tags;
    private readonly TagList _delivered;
    private readonly TagList _empty;
    private readonly TagList[] _kinds;
    private readonly long[] _kindCounts;
    private long _messages;
    private long _bytes;
    private ReplicationConnection? _replication;

    public SourceTelemetry(string pipeline, string slot, AcknowledgementTracker tracker)
    {
        _tracker = tracker;
        _tags = new TagList { { CdcTelemetry.PipelineTag, pipeline }, { CdcTelemetry.SlotTag, slot } };
        _delivered = With(CdcTelemetry.OutcomeTag, "delivered");
        _empty = With(CdcTelemetry.OutcomeTag, "empty");
        var kinds = Enum.GetValues<ChangeKind>();
        _kinds = new TagList[kinds.Length];
        foreach (var kind in kinds) _kinds[(int)kind] = With(CdcTelemetry.KindTag, kind.ToString().ToLowerInvariant());
        _kindCounts = new long[kinds.Length];
    }

    private TagList With(string key, string value)
    {
        var tags = _tags;
        tags.Add(key, value);
        return tags;
    }

    /// <summary>A stream opened its replication connection: its positions are reported until <see cref="Stopped"/>.</summary>
    public void Started(ReplicationConnection replication)
    {
        Volatile.Write(ref _replication, replication);
        CdcTelemetry.SourceConnects.Add(1, in _tags);
        Streaming[this] = 0;
    }

    /// <summary>The stream ended: what it received of an unfinished transaction is counted, its gauges stop.</summary>
    public void Stopped()
    {
        Streaming.TryRemove(this, out _);
        Volatile.Write(ref _replication, null);
        Flush();
    }

    /// <summary>A message arrived.</summary>
    public void Message() => _messages++;

    /// <summary>A column value of <paramref name="length"/> bytes arrived.</summary>
    public void Value(int length) => _bytes += length;

    /// <summary>A transaction with nothing for the consumer ended.</summary>
    public void Empty()
    {
        CdcTelemetry.SourceTransactions.Add(1, in _empty);
        Flush();
    }

    /// <summary>A transaction committed at <paramref name="commitTime"/> goes to the consumer with <paramref name="changes"/>.</summary>
    public void Delivered(DateTimeOffset commitTime, List<RowChange> changes)
    {
        CdcTelemetry.SourceTransactions.Add(1, in _delivered);
        if (CdcTelemetry.SourceLag.Enabled)
        {
            double lag = (DateTimeOffset.UtcNow - commitTime).TotalSeconds;
            CdcTelemetry.SourceLag.Record(lag > 0 ? lag : 0, in _tags);
        }
        if (CdcTelemetry.SourceChanges.Enabled)
        {
            foreach (var change in changes) _kindCounts[(int)change.Kind]++;
            for (int i = 0; i < _kindCounts.Length; i++)
            {
                if (_kindCounts[i] == 0) continue;
                CdcTelemetry.SourceChanges.Add(_kindCounts[i], in _kinds[i]);
                _kindCounts[i] = 0;
            }
        }
        Flush();
    }

    private void Flush()
    {
        if (_messages > 0) CdcTelemetry.SourceMessages.Add(_messages, in _tags);
        if (_bytes > 0) CdcTelemetry.SourceBytes.Add(_bytes, in _tags);
        _messages = 0;
        _bytes = 0;
    }

    /// <summary>The stream ended with <paramref name="exception"/>; counted by category (cancellation is not an error).</summary>
    /// <returns>False: used as an exception filter, it lets the exception go on.</returns>
    public bool Failed(Exception exception)
    {
        if (exception is OperationCanceledException) return false;
        var tags = _tags;
        tags.Add(CdcTelemetry.CategoryTag, Category(exception));
        CdcTelemetry.SourceErrors.Add(1, in tags);
        return false;
    }

    /// <summary>slot (missing or in use), server (PostgreSQL refused), connection (lost, timed out), decode (a message the stream cannot read), other.</summary>
    internal static string Category(Exception exception) => exception switch
    {
        ChangeSourceException => "slot",
        PostgresException => "server",
        NpgsqlException or IOException or System.Net.Sockets.SocketException or TimeoutException => "connection",
        NotSupportedException or KeyNotFoundException or FormatException => "decode",
        _ => "other",
    };

    /// <summary>The gauges' callback: <paramref name="position"/> of every running stream that has one.</summary>
    public static IEnumerable<Measurement<long>> Observe(SourcePosition position)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var source in Streaming.Keys)
        {
            ulong value = position switch
            {
                SourcePosition.Received => (ulong)(Volatile.Read(ref source._replication)?.LastReceivedLsn ?? default),
                SourcePosition.Acknowledged => source._tracker.Acknowledged,
                _ => source._tracker.Confirmed,
            };
            if (value is > 0 and <= long.MaxValue) measurements.Add(new Measurement<long>((long)value, source._tags));
        }
        return measurements;
    }
}
