using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Dsql.Connector.Benchmarks.Micro;

/// <summary>
/// A MeterListener and an ActivityListener on "Dsql.Connector", as an exporter would attach them, for the "with a
/// listener attached" runs. The callbacks only sum or count the values (no export), so the figures show the connector's
/// own cost of recording, not an exporter's.
/// </summary>
internal sealed class TelemetryListeners : IDisposable
{
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _activities;
    private long _longs;
    private long _doubles;
    private int _activitiesStopped;

    public TelemetryListeners()
    {
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Dsql.Connector") listener.EnableMeasurementEvents(instrument);
        };
        _meters.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _longs, value));
        _meters.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _doubles));
        _meters.Start();
        _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Dsql.Connector",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ => Interlocked.Increment(ref _activitiesStopped),
        };
        ActivitySource.AddActivityListener(_activities);
    }

    /// <summary>Attaches the listeners when <paramref name="attach"/> is set.</summary>
    public static TelemetryListeners? AttachIf(bool attach) => attach ? new TelemetryListeners() : null;

    public void Dispose()
    {
        _meters.Dispose();
        _activities.Dispose();
    }
}
