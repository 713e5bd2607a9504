using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Dsql.Connector.Tests.Infrastructure;

/// <summary>
/// Listens to the connector's meter and activity source and keeps what one endpoint recorded. Tests run in
/// parallel and the meter is process-wide: everything for another endpoint is ignored, and ignored without
/// allocating, so that the allocation test of the token cache stays exact while a collector is attached.
/// </summary>
internal sealed class TelemetryCollector : IDisposable
{
    private const string EndpointTag = "dsql.endpoint";
    private readonly string _endpoint;
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _activities;
    private readonly ConcurrentQueue<Measurement> _measurements = new();
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public TelemetryCollector(string endpoint)
    {
        _endpoint = endpoint;
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Dsql.Connector") listener.EnableMeasurementEvents(instrument);
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meters.Start();
        _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Dsql.Connector",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem(EndpointTag) as string == _endpoint) _stopped.Enqueue(activity);
            },
        };
        ActivitySource.AddActivityListener(_activities);
    }

    /// <summary>One measurement: the instrument's name and unit, the value and the tags.</summary>
    public sealed record Measurement(string Name, string? Unit, double Value, IReadOnlyDictionary<string, object?> Tags);

    public IReadOnlyList<Measurement> Measurements => _measurements.ToArray();

    public IReadOnlyList<Activity> Activities => _stopped.ToArray();

    public IReadOnlyList<Measurement> Of(string name) => Measurements.Where(m => m.Name == name).ToList();

    /// <summary>The sum of a counter's measurements (optionally only those with a given tag value).</summary>
    public double Sum(string name, string? tag = null, string? value = null)
        => Of(name).Where(m => tag is null || Equals(m.Tags.GetValueOrDefault(tag), value)).Sum(m => m.Value);

    /// <summary>Every tag value recorded, of measurements, activities and activity events, as text.</summary>
    public IEnumerable<string> AllTagValues()
    {
        foreach (var measurement in Measurements)
            foreach (var value in measurement.Tags.Values) yield return value?.ToString() ?? "";
        foreach (var activity in Activities)
        {
            foreach (var tag in activity.TagObjects) yield return tag.Value?.ToString() ?? "";
            foreach (var activityEvent in activity.Events)
                foreach (var tag in activityEvent.Tags) yield return tag.Value?.ToString() ?? "";
            yield return activity.StatusDescription ?? "";
        }
    }

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags) where T : struct
    {
        // Ours or not is decided without allocating.
        bool ours = false;
        foreach (var tag in tags)
        {
            if (tag.Key == EndpointTag && tag.Value is string endpoint && endpoint == _endpoint)
            {
                ours = true;
                break;
            }
        }
        if (!ours) return;
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags) copy[tag.Key] = tag.Value;
        _measurements.Enqueue(new Measurement(instrument.Name, instrument.Unit, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), copy));
    }

    public void Dispose()
    {
        _meters.Dispose();
        _activities.Dispose();
    }
}
