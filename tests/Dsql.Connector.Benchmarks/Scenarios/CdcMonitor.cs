using System.Diagnostics;
using Dsql.Connector.Benchmarks.Lab;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// What the change-replication scenario watches while it runs: a marker row inserted at the source every 100 ms
/// (<c>source_time</c> = <c>clock_timestamp()</c> in the INSERT, which commits at once), the target polled every 20 ms
/// for markers that arrived (their lag: arrival minus <c>source_time</c>, both on this machine's clock), and once a
/// second the slot's backlog at the source, the tool's resident memory and the CPU time of every process involved.
/// </summary>
internal sealed class CdcMonitor : IAsyncDisposable
{
    public static readonly TimeSpan MarkerInterval = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private readonly Stopwatch _clock;
    private readonly NpgsqlDataSource _source;
    private readonly DsqlDataSource _target;
    private readonly string _slot;
    private readonly Processes _processes;
    private readonly Func<long> _generated;
    private readonly Lock _gate = new();
    private readonly List<Marker> _markers = [];
    private readonly List<Sample> _samples = [];
    private readonly CancellationTokenSource _stopMarkers = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _markerWriter;
    private readonly Task _poller;
    private readonly Task _sampler;
    private long _markersCommitted;
    private long _pollErrors;
    private string? _lastError;

    /// <summary>The processes whose CPU time and memory are sampled.</summary>
    public sealed record Processes(int Tool, int Emulator, int TargetPostmaster, int SourcePostmaster);

    /// <summary>One marker: when the lab inserted it (its clock), its source time as the source recorded it, when it was seen on the target.</summary>
    public sealed class Marker(long id, double insertedAt)
    {
        public long Id { get; } = id;

        public double InsertedAt { get; } = insertedAt;

        public bool Committed { get; set; }

        public bool Failed { get; set; }

        public DateTime? SourceTime { get; set; }

        public DateTime? ArrivedAt { get; set; }

        public double? Lag => SourceTime is { } s && ArrivedAt is { } a ? (a - s).TotalSeconds : null;
    }

    /// <summary>
    /// A once-a-second sample: the lab's clock, the slot's backlog (bytes of source log not confirmed), the tool's RSS,
    /// CPU seconds used so far by each process, the machine's busy and total ticks, and the changes committed at the
    /// source so far (the generator's and the markers').
    /// </summary>
    public sealed record Sample(double At, double? BacklogBytes, long? ToolRss, double ToolCpu, double EmulatorCpu, double TargetCpu, double SourceCpu, double LabCpu,
        long MachineBusy, long MachineTotal, long SourceChanges);

    public CdcMonitor(Stopwatch clock, NpgsqlDataSource source, DsqlDataSource target, string slot, Processes processes, Func<long> generated)
    {
        _clock = clock;
        _source = source;
        _target = target;
        _slot = slot;
        _processes = processes;
        _generated = generated;
        _markerWriter = Task.Run(WriteMarkersAsync);
        _poller = Task.Run(PollAsync);
        _sampler = Task.Run(SampleAsync);
    }

    public long MarkersCommitted => Interlocked.Read(ref _markersCommitted);

    public long PollErrors => Interlocked.Read(ref _pollErrors);

    public string? LastError => Volatile.Read(ref _lastError);

    public IReadOnlyList<Marker> Markers
    {
        get
        {
            lock (_gate) return _markers.ToArray();
        }
    }

    public IReadOnlyList<Sample> Samples
    {
        get
        {
            lock (_gate) return _samples.ToArray();
        }
    }

    /// <summary>
    /// Waits until a marker inserted at or after <paramref name="since"/> (lab clock) has arrived on the target: every
    /// source transaction committed before that marker is then applied. False when <paramref name="limit"/> passed first.
    /// </summary>
    public async Task<bool> WaitForMarkerAfterAsync(double since, TimeSpan limit)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < limit)
        {
            lock (_gate)
            {
                if (_markers.Any(m => m.InsertedAt >= since && m.ArrivedAt is not null)) return true;
            }
            await Task.Delay(50);
        }
        return false;
    }

    /// <summary>Stops inserting markers (the source then only changes by the generator); polling and sampling go on.</summary>
    public async Task StopMarkersAsync()
    {
        await _stopMarkers.CancelAsync();
        await _markerWriter;
    }

    private async Task WriteMarkersAsync()
    {
        using var timer = new PeriodicTimer(MarkerInterval);
        await using var connection = await _source.OpenConnectionAsync();
        await using var insert = new NpgsqlCommand("INSERT INTO lab_marker (id, source_time) VALUES ($1, clock_timestamp())", connection);
        var id = new NpgsqlParameter<long>();
        insert.Parameters.Add(id);
        await insert.PrepareAsync();
        long next = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(_stopMarkers.Token))
            {
                var marker = new Marker(++next, _clock.Elapsed.TotalSeconds);
                lock (_gate) _markers.Add(marker);
                id.TypedValue = marker.Id;
                try
                {
                    await insert.ExecuteNonQueryAsync(CancellationToken.None);
                    lock (_gate) marker.Committed = true;
                    Interlocked.Increment(ref _markersCommitted);
                }
                catch (NpgsqlException ex)
                {
                    lock (_gate) marker.Failed = true;
                    Volatile.Write(ref _lastError, "marker insert: " + ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
    }

    private async Task PollAsync()
    {
        long lowestMissing = 1;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _target.OpenConnectionAsync(_stop.Token);
                await using var poll = new NpgsqlCommand("SELECT id, source_time FROM lab_marker WHERE id >= $1 ORDER BY id", connection);
                var from = new NpgsqlParameter<long>();
                poll.Parameters.Add(from);
                while (!_stop.IsCancellationRequested)
                {
                    from.TypedValue = lowestMissing;
                    var seen = new List<(long Id, DateTime SourceTime)>();
                    await using (var reader = await poll.ExecuteReaderAsync(_stop.Token))
                    {
                        while (await reader.ReadAsync(_stop.Token)) seen.Add((reader.GetInt64(0), reader.GetFieldValue<DateTime>(1)));
                    }
                    DateTime now = DateTime.UtcNow;
                    lock (_gate)
                    {
                        foreach (var (markerId, sourceTime) in seen)
                        {
                            // Marker n is list entry n - 1: ids are handed out in order and every marker is listed before its insert.
                            if (markerId < 1 || markerId > _markers.Count) continue;
                            var marker = _markers[(int)markerId - 1];
                            if (marker.ArrivedAt is not null) continue;
                            marker.SourceTime = sourceTime;
                            marker.ArrivedAt = now;
                        }
                        while (lowestMissing <= _markers.Count && _markers[(int)lowestMissing - 1] is { } m && (m.ArrivedAt is not null || m.Failed)) lowestMissing++;
                    }
                    await Task.Delay(PollInterval, _stop.Token);
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
            {
                // The table is not created yet, or the session was cut: open again.
                Interlocked.Increment(ref _pollErrors);
                Volatile.Write(ref _lastError, "poll: " + ex.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            await using var connection = await _source.OpenConnectionAsync(_stop.Token);
            await using var backlog = new NpgsqlCommand(
                "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::float8 FROM pg_replication_slots WHERE slot_name = $1", connection);
            backlog.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _slot });
            do
            {
                double? bytes = null;
                try
                {
                    bytes = await backlog.ExecuteScalarAsync(_stop.Token) is double b ? b : null;
                }
                catch (NpgsqlException ex)
                {
                    Volatile.Write(ref _lastError, "backlog: " + ex.Message);
                }
                var machine = ProcessStats.MachineTicks();
                var sample = new Sample(
                    _clock.Elapsed.TotalSeconds,
                    bytes,
                    ProcessStats.ResidentBytes(_processes.Tool),
                    ProcessStats.ProcessCpu(_processes.Tool).TotalSeconds,
                    ProcessStats.ProcessCpu(_processes.Emulator).TotalSeconds,
                    ProcessStats.ClusterCpu(_processes.TargetPostmaster).TotalSeconds,
                    ProcessStats.ClusterCpu(_processes.SourcePostmaster).TotalSeconds,
                    ProcessStats.ProcessCpu(Environment.ProcessId).TotalSeconds,
                    machine?.Busy ?? 0,
                    machine?.Total ?? 0,
                    _generated() + MarkersCommitted);
                lock (_gate) _samples.Add(sample);
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
            // stopped
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopMarkers.CancelAsync();
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_markerWriter, _poller, _sampler);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            Volatile.Write(ref _lastError, ex.Message);
        }
        _stopMarkers.Dispose();
        _stop.Dispose();
    }
}
