using Dsql.Emulator.Front;
using Dsql.Emulator.Protocol;

namespace Dsql.Emulator;

/// <summary>
/// Failures of one endpoint alone (<see cref="EmulatorFaults.ForEndpoint"/>): the endpoint made unavailable the way a
/// DSQL regional endpoint is during a Region impairment, or failing a fraction of its connects and statements, while
/// the other endpoints over the same backend keep serving. Counters tell what the endpoint refused, cut and failed.
/// </summary>
/// <remarks>
/// The endpoint a connection belongs to is the one whose port it reached; once its TLS handshake names another
/// endpoint (SNI), the checks from the startup message on apply to that one. All members are thread-safe.
/// </remarks>
public sealed class EndpointFaults
{
    private readonly DsqlEmulator _emulator;
    private readonly EndpointListener _listener;
    private readonly object _gate = new();
    private volatile EndpointOutage _outage;
    private double _fraction;
    private Random _random = new(0);
    private TaskCompletionSource? _stallReleased;
    private volatile UnavailableCommitOutcome _commitOutcome;
    private int _connectsRefused;
    private int _sessionsCut;
    private int _statementsFailed;

    internal EndpointFaults(DsqlEmulator emulator, EndpointListener listener)
    {
        _emulator = emulator;
        _listener = listener;
    }

    /// <summary>The endpoint's host name.</summary>
    public string Host => _listener.Host;

    /// <summary>The current outage (<see cref="EndpointOutage.None"/> while available or failing only a fraction).</summary>
    public EndpointOutage Outage => _outage;

    /// <summary>True when the endpoint has no outage and fails no fraction of its work.</summary>
    public bool IsAvailable => _outage == EndpointOutage.None && FailureFraction == 0;

    /// <summary>The fraction of connects and statements failed (<see cref="FailFraction"/>); 0 when off.</summary>
    public double FailureFraction
    {
        get { lock (_gate) return _fraction; }
    }

    /// <summary>
    /// Whether a <c>COMMIT</c> answered <c>XX000 server unavailable</c> (<see cref="EndpointOutage.ServerUnavailable"/>
    /// or <see cref="FailFraction"/>) committed: <see cref="UnavailableCommitOutcome.NotCommitted"/> by default, so
    /// that tests of a connector's unknown-outcome handling can try both.
    /// </summary>
    public UnavailableCommitOutcome CommitOutcome
    {
        get => _commitOutcome;
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown commit outcome.");
            _commitOutcome = value;
        }
    }

    /// <summary>
    /// Connection attempts this endpoint failed: answered with a FATAL error, reset at accept, or stalled
    /// (counted when the stall begins).
    /// </summary>
    public int ConnectsRefused => Volatile.Read(ref _connectsRefused);

    /// <summary>Open sessions this endpoint closed (<see cref="EndpointOutage.CutSessions"/>, <see cref="EndpointOutage.DropSessions"/>).</summary>
    public int SessionsCut => Volatile.Read(ref _sessionsCut);

    /// <summary>Statements (request groups: a simple query, or the messages up to a Sync) answered <c>XX000 server unavailable</c>, COMMITs included.</summary>
    public int StatementsFailed => Volatile.Read(ref _statementsFailed);

    /// <summary>
    /// Makes the endpoint unavailable in the given way until <see cref="Available"/> (or another call). Switching to
    /// <see cref="EndpointOutage.CutSessions"/> or <see cref="EndpointOutage.DropSessions"/> closes the endpoint's open
    /// sessions at once. Ends any <see cref="FailFraction"/>. <see cref="EndpointOutage.None"/> is <see cref="Available"/>.
    /// </summary>
    /// <param name="outage">How the endpoint fails; see <see cref="EndpointOutage"/>.</param>
    public void Unavailable(EndpointOutage outage = EndpointOutage.RefuseConnects)
    {
        if (!Enum.IsDefined(outage)) throw new ArgumentOutOfRangeException(nameof(outage), outage, "Unknown endpoint outage.");
        if (outage == EndpointOutage.None)
        {
            Available();
            return;
        }
        TaskCompletionSource? released;
        lock (_gate)
        {
            _fraction = 0;
            released = outage == EndpointOutage.StallConnects ? null : _stallReleased;
            if (outage == EndpointOutage.StallConnects) _stallReleased ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            else _stallReleased = null;
            _outage = outage;
        }
        released?.TrySetResult();
        Log.EndpointMadeUnavailable(_emulator.Logger, Host, outage);
        if (outage is EndpointOutage.CutSessions or EndpointOutage.DropSessions)
        {
            foreach (var session in _emulator.SessionsOf(_listener)) _ = CutSession(session);
        }
    }

    /// <summary>Ends the outage and any <see cref="FailFraction"/>: the endpoint serves normally again; connections stalled so far are closed.</summary>
    public void Available()
    {
        TaskCompletionSource? released;
        lock (_gate)
        {
            released = _stallReleased;
            _stallReleased = null;
            _fraction = 0;
            _outage = EndpointOutage.None;
        }
        released?.TrySetResult();
        Log.EndpointAvailable(_emulator.Logger, Host);
    }

    /// <summary>
    /// Fails a fraction of the endpoint's work, for tests of routing that must not flap: each new connection is refused
    /// (FATAL <c>XX000 server unavailable</c>, as <see cref="EndpointOutage.RefuseConnects"/>) and each statement fails
    /// (<c>XX000 server unavailable</c>, as <see cref="EndpointOutage.ServerUnavailable"/>) with probability
    /// <paramref name="fraction"/>. The draws come from a generator seeded with <paramref name="seed"/>, so the same
    /// sequence of connects and statements fails the same way on every run. Ends any outage; 0 turns it off.
    /// </summary>
    /// <param name="fraction">Probability of failure, from 0 to 1.</param>
    /// <param name="seed">Seed of the draws.</param>
    public void FailFraction(double fraction, int seed = 0)
    {
        if (!(fraction is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The fraction must be between 0 and 1.");
        TaskCompletionSource? released;
        lock (_gate)
        {
            released = _stallReleased;
            _stallReleased = null;
            _outage = EndpointOutage.None;
            _fraction = fraction;
            _random = new Random(seed);
        }
        released?.TrySetResult();
        Log.EndpointFailFraction(_emulator.Logger, Host, fraction, seed);
    }

    /// <summary>True when a connection just accepted is to be reset (counted as refused).</summary>
    internal bool ResetAtAccept()
    {
        if (_outage is not (EndpointOutage.ResetConnects or EndpointOutage.DropSessions)) return false;
        Interlocked.Increment(ref _connectsRefused);
        return true;
    }

    /// <summary>The task a connection just accepted waits for, never answered, or null when the endpoint does not stall connects.</summary>
    internal Task? StallAtAccept()
    {
        if (_outage != EndpointOutage.StallConnects) return null;
        lock (_gate)
        {
            if (_stallReleased is not { } released) return null;
            Interlocked.Increment(ref _connectsRefused);
            return released.Task;
        }
    }

    /// <summary>What to do with a connection that has sent its startup message: null to go on.</summary>
    internal ConnectRefusal? RefusalAtStartup()
    {
        var outage = _outage;
        ConnectRefusal? refusal = outage switch
        {
            EndpointOutage.RefuseConnects => new ConnectRefusal(PgConstants.InternalError, DsqlMessages.ServerUnavailable),
            EndpointOutage.CutSessions => new ConnectRefusal(PgConstants.AdminShutdown, DsqlMessages.AdministratorCommand),
            // Accepted just before the outage began: closed as the outage closes new connections.
            EndpointOutage.ResetConnects or EndpointOutage.DropSessions => new ConnectRefusal(null, null),
            EndpointOutage.None when Draw() => new ConnectRefusal(PgConstants.InternalError, DsqlMessages.ServerUnavailable),
            _ => null,
        };
        if (refusal is not null) Interlocked.Increment(ref _connectsRefused);
        return refusal;
    }

    /// <summary>
    /// Cuts a session that has just completed its handshake when the endpoint cuts sessions (it got past the startup
    /// check just before the outage began); returns the closing to wait for, or null when the session may go on.
    /// </summary>
    internal Task? CutIfOutage(ClientSession session)
    {
        if (_outage is not (EndpointOutage.CutSessions or EndpointOutage.DropSessions)) return null;
        return CutSession(session) ?? Task.CompletedTask;
    }

    /// <summary>True when statements may fail (an XX000 outage or a fraction): a cheap check before <see cref="FailStatement"/>.</summary>
    internal bool FailsStatements => _outage == EndpointOutage.ServerUnavailable || Volatile.Read(ref _fraction) > 0;

    /// <summary>True when the statement starting now is to fail with <c>XX000 server unavailable</c> (counted).</summary>
    internal bool FailStatement()
    {
        var outage = _outage;
        bool fail = outage == EndpointOutage.ServerUnavailable || (outage == EndpointOutage.None && Draw());
        if (fail) Interlocked.Increment(ref _statementsFailed);
        return fail;
    }

    /// <summary>Closes a session for the outage (once: null when it is being cut already).</summary>
    private Task? CutSession(ClientSession session)
    {
        if (!session.TryMarkCut()) return null;
        Interlocked.Increment(ref _sessionsCut);
        Log.SessionCutByOutage(_emulator.Logger, session.Id, Host);
        if (_outage != EndpointOutage.DropSessions) return session.CloseWithErrorAsync(PgConstants.AdminShutdown, DsqlMessages.AdministratorCommand);
        session.Close();
        return Task.CompletedTask;
    }

    private bool Draw()
    {
        if (Volatile.Read(ref _fraction) == 0) return false;
        lock (_gate) return _fraction > 0 && _random.NextDouble() < _fraction;
    }
}

/// <summary>
/// How an endpoint's fault refuses a connection at its startup message: a FATAL error, or (no SQLSTATE) a close
/// without a message.
/// </summary>
internal readonly record struct ConnectRefusal(string? SqlState, string? Message);
