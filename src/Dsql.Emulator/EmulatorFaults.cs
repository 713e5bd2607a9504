namespace Dsql.Emulator;

/// <summary>Failures a test can inject into a running <see cref="DsqlEmulator"/>.</summary>
public sealed class EmulatorFaults
{
    private readonly DsqlEmulator _emulator;
    private readonly object _gate = new();
    private int _refuseCount;
    private string _refuseSqlState = "53400";
    private string? _refuseMessage;
    private long _latencyTicks;
    private TaskCompletionSource _acceptGate = CreateOpenGate();
    private int _commitCuts;
    private CommitCutPoint _commitCutPoint;
    private int _commitsCut;
    private HandshakeStall _stall;
    private TaskCompletionSource _stallReleased = CreateOpenGate();

    internal EmulatorFaults(DsqlEmulator emulator) => _emulator = emulator;

    /// <summary>Delay added before every batch of client messages reaches the backend (and to every connect). Zero by default.</summary>
    public TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
        set
        {
            if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "Latency must not be negative.");
            Interlocked.Exchange(ref _latencyTicks, value.Ticks);
        }
    }

    /// <summary>
    /// Refuses the next <paramref name="count"/> connection attempts after their startup message with a FATAL
    /// error of the given SQLSTATE; the message defaults to DSQL's wording for 53400 and 53300.
    /// </summary>
    public void RefuseNextConnections(int count, string sqlState = "53400", string? message = null)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must not be negative.");
        if (sqlState is not { Length: 5 }) throw new ArgumentException($"'{sqlState}' is not a five-character SQLSTATE.", nameof(sqlState));
        lock (_gate)
        {
            _refuseCount = count;
            _refuseSqlState = sqlState;
            _refuseMessage = message;
        }
    }

    internal (string SqlState, string Message)? TakeRefusal()
    {
        lock (_gate)
        {
            if (_refuseCount == 0) return null;
            _refuseCount--;
            string message = _refuseMessage ?? _refuseSqlState switch
            {
                "53400" => DsqlMessages.RateExceeded,
                "53300" => DsqlMessages.TooManyConnections,
                _ => "connection refused by the emulator's fault injection",
            };
            return (_refuseSqlState, message);
        }
    }

    /// <summary>Stops accepting connections: new clients wait in the listen backlog until <see cref="ResumeAccepting"/>.</summary>
    public void PauseAccepting()
    {
        lock (_gate)
            if (_acceptGate.Task.IsCompleted) _acceptGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Accepts connections again.</summary>
    public void ResumeAccepting()
    {
        lock (_gate) _acceptGate.TrySetResult();
    }

    /// <summary>Whether accepting is paused.</summary>
    public bool IsAcceptingPaused
    {
        get { lock (_gate) return !_acceptGate.Task.IsCompleted; }
    }

    internal Task AcceptGate
    {
        get { lock (_gate) return _acceptGate.Task; }
    }

    /// <summary>
    /// Makes every new connection stall at <paramref name="phase"/> of its handshake: the emulator stops answering
    /// there (the TCP connection stays open) until <see cref="ResumeHandshakes"/>, the emulator's handshake timeout
    /// (<see cref="DsqlEmulatorOptions.HandshakeTimeout"/>) or its shutdown, and then closes the connection.
    /// Connections already past that phase are not affected. <see cref="HandshakeStall.None"/> is
    /// <see cref="ResumeHandshakes"/>.
    /// </summary>
    public void StallHandshakes(HandshakeStall phase)
    {
        if (!Enum.IsDefined(phase)) throw new ArgumentOutOfRangeException(nameof(phase), phase, "Not a handshake phase.");
        if (phase == HandshakeStall.None)
        {
            ResumeHandshakes();
            return;
        }
        lock (_gate)
        {
            _stall = phase;
            if (_stallReleased.Task.IsCompleted) _stallReleased = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>Ends the handshake stall: connections stalled so far are closed, new ones run their handshake normally.</summary>
    public void ResumeHandshakes()
    {
        lock (_gate)
        {
            _stall = HandshakeStall.None;
            _stallReleased.TrySetResult();
        }
    }

    /// <summary>Where new connections stall (<see cref="HandshakeStall.None"/>: nowhere).</summary>
    public HandshakeStall HandshakeStall
    {
        get { lock (_gate) return _stall; }
    }

    /// <summary>
    /// The task a connection at <paramref name="phase"/> of its handshake waits for before it is closed, or null when
    /// that phase is not stalled.
    /// </summary>
    internal Task? StallAt(HandshakeStall phase)
    {
        lock (_gate) return _stall == phase ? _stallReleased.Task : null;
    }

    /// <summary>Closes every open session with a FATAL 57P01 error; returns how many were closed.</summary>
    public int CloseAllSessions() => _emulator.CloseSessions(int.MaxValue);

    /// <summary>Closes up to <paramref name="count"/> open sessions (oldest first) with a FATAL 57P01 error; returns how many were closed.</summary>
    public int CloseSessions(int count) => _emulator.CloseSessions(count);

    /// <summary>
    /// Cuts the sessions that send the next <paramref name="count"/> COMMITs (a simple-query <c>COMMIT</c> or
    /// <c>END</c> inside a transaction, as Npgsql sends it), from any session, without an error message, as a network
    /// failure would: at <see cref="CommitCutPoint.BeforeCommit"/> the COMMIT is not forwarded and nothing is
    /// committed; at <see cref="CommitCutPoint.AfterCommit"/> the database commits and its answer is dropped.
    /// A later call replaces the count and the point; zero disarms.
    /// </summary>
    public void CutSessionsAtCommit(int count, CommitCutPoint point = CommitCutPoint.BeforeCommit)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must not be negative.");
        if (!Enum.IsDefined(point)) throw new ArgumentOutOfRangeException(nameof(point), point, "Unknown commit cut point.");
        lock (_gate)
        {
            _commitCuts = count;
            _commitCutPoint = point;
        }
    }

    /// <summary>How many sessions have been cut at COMMIT so far (<see cref="CutSessionsAtCommit"/>).</summary>
    public int CommitsCut
    {
        get { lock (_gate) return _commitsCut; }
    }

    /// <summary>Takes one armed commit cut, if any: where to cut the session that is sending a COMMIT.</summary>
    internal CommitCutPoint? TakeCommitCut()
    {
        lock (_gate)
        {
            if (_commitCuts == 0) return null;
            _commitCuts--;
            _commitsCut++;
            return _commitCutPoint;
        }
    }

    /// <summary>
    /// The faults of one endpoint alone: make it unavailable the way a DSQL regional endpoint is during a Region
    /// impairment (<see cref="EndpointFaults.Unavailable"/>), fail a fraction of its work, count what it failed.
    /// </summary>
    /// <param name="host">The endpoint's host name (<see cref="EmulatorEndpointInfo.Host"/>; case does not matter).</param>
    /// <exception cref="ArgumentException">No endpoint has that host name.</exception>
    public EndpointFaults ForEndpoint(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        return _emulator.FindEndpoint(host)?.Faults
            ?? throw new ArgumentException($"The emulator has no endpoint '{host}'; its endpoints are: {string.Join(", ", _emulator.Endpoints.Select(e => e.Host))}.", nameof(host));
    }

    /// <summary>Moves the emulator's clock (token expiry, connection and transaction ages) by <paramref name="delta"/>.</summary>
    public void AdvanceClock(TimeSpan delta) => _emulator.Clock.Advance(delta);

    private static TaskCompletionSource CreateOpenGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }
}
