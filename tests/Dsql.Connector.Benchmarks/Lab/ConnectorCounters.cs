using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>
/// Sums the connector's counters ("Dsql.Connector" meter) while a scenario runs, split by the <c>reason</c> tag where
/// there is one, so a scenario can report what happened behind its figures (connect attempts, retried failures,
/// tokens signed, transaction retries).
/// </summary>
internal sealed class ConnectorCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _sums = new(StringComparer.Ordinal);

    public ConnectorCounters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Dsql.Connector" && instrument is Counter<long>) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            _sums.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value);
            foreach (var tag in tags)
            {
                if (tag.Key == "reason") _sums.AddOrUpdate(instrument.Name + "/" + tag.Value, value, (_, sum) => sum + value);
            }
        });
        _listener.Start();
    }

    /// <summary>The sum of a counter, or of one of its reasons as "name/reason"; 0 when nothing was recorded.</summary>
    public long this[string name] => _sums.GetValueOrDefault(name);

    /// <summary>Every "name/reason" sum of a counter, for a report line.</summary>
    public string Reasons(string name)
    {
        var parts = _sums.Where(p => p.Key.StartsWith(name + "/", StringComparison.Ordinal)).OrderByDescending(p => p.Value).Select(p => $"{p.Key[(name.Length + 1)..]} x{p.Value}").ToArray();
        return parts.Length == 0 ? "none" : string.Join(", ", parts);
    }

    public void Dispose() => _listener.Dispose();
}
