using System.Diagnostics;

namespace Dsql.Connector;

/// <summary>
/// Paces the physical connects of one process to one DSQL endpoint so that they never exceed DSQL's connection-rate
/// quota: a token bucket that refills continuously, as DSQL's does, and is drawn on when a connect presents its token.
/// <para>
/// A connect that knows in advance it will be physical (a data source without pooling) <em>reserves</em> a permit
/// before its socket opens and <em>uses</em> it when it sends its token, or <em>releases</em> it if it fails before.
/// Reserving does not draw on the bucket: a bucket that is full stays full, and does not refill, until tokens are
/// actually sent, exactly like the server's. So a storm's handshakes, which may take seconds under load, never let
/// the client's bucket run ahead of the server's, and connects waiting their turn hold no connection on the server.
/// Connects that reserved nothing (a pool growing) take a permit at the token step, waiting there if needed.
/// </para>
/// <para>
/// The bucket holds back 5% of the burst (at least one permit) from the server's: that margin absorbs tokens that
/// reach the server in a different order or spacing than they left the client. Waiters are served first come,
/// first served.
/// </para>
/// <para>
/// At most <see cref="DefaultMaxReserved"/> reservations are outstanding at once. The server's bucket starts to refill
/// only when the first token of a storm arrives; a thousand handshakes started together share the CPU and all finish
/// late, which delays that first token by as long as the whole burst takes. Admitting them a few dozen at a time lets
/// the first tokens arrive within milliseconds while still keeping more handshakes in flight than the steady rate needs
/// (64 in flight at 100 ms per connect is 640 connects a second).
/// </para>
/// </summary>
internal sealed class ConnectPacer
{
    private readonly object _gate = new();
    private readonly TimeProvider _time;
    private readonly double _ratePerSecond;
    private readonly double _capacity;
    private readonly Queue<Waiter> _waiters = new();
    private double _tokens;
    private long _refilledAt;
    private int _reserved;
    private readonly int _maxReserved;
    private ITimer? _timer;
    private bool _timerArmed;

    /// <summary>Default of the most reservations outstanding at once: connects between their socket opening and their token.</summary>
    public const int DefaultMaxReserved = 64;

    public ConnectPacer(double ratePerSecond, int burst, TimeProvider? time = null, int maxReserved = DefaultMaxReserved)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxReserved, 1);
        _maxReserved = maxReserved;
        if (!(ratePerSecond > 0) || double.IsInfinity(ratePerSecond)) throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "The connection rate must be a finite number greater than 0.");
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _time = time ?? TimeProvider.System;
        _ratePerSecond = ratePerSecond;
        _capacity = Math.Max(1, burst - Math.Max(1, (int)Math.Ceiling(burst * 0.05)));
        _tokens = _capacity;
        _refilledAt = _time.GetTimestamp();
    }

    /// <summary>The most permits the bucket holds (the burst less the held-back margin).</summary>
    public double Capacity => _capacity;

    /// <summary>Permits that can be taken or reserved right now.</summary>
    public double Available
    {
        get
        {
            lock (_gate)
            {
                Refill();
                return _tokens - _reserved;
            }
        }
    }

    /// <summary>Takes a permit to use at once, if one is free and nobody is waiting.</summary>
    public bool TryTake() => TryGrant(reserve: false);

    /// <summary>Reserves a permit for a connect about to open its socket, if one is free and nobody is waiting.</summary>
    public bool TryReserve() => TryGrant(reserve: true);

    /// <summary>Waits, in turn, for a permit to use at once.</summary>
    public ValueTask TakeAsync(CancellationToken cancellationToken) => WaitAsync(reserve: false, cancellationToken);

    /// <summary>Waits, in turn, for a permit to reserve before a socket opens.</summary>
    public ValueTask ReserveAsync(CancellationToken cancellationToken) => WaitAsync(reserve: true, cancellationToken);

    /// <summary>Blocks until a permit is granted or <paramref name="timeout"/> passes; false on timeout.</summary>
    public bool Wait(bool reserve, TimeSpan timeout)
    {
        if (TryGrant(reserve)) return true;
        if (timeout <= TimeSpan.Zero) return false;
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            WaitAsync(reserve, cancel.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>A reserved permit is used: its connect is sending its token now.</summary>
    public void UseReserved()
    {
        lock (_gate)
        {
            Debug.Assert(_reserved > 0, "UseReserved without a reservation");
            Refill();
            _reserved--;
            _tokens -= 1;
            if (_waiters.Count > 0) Pump(); // a reservation slot came free
        }
    }

    /// <summary>A reserved permit is given back unused: its connect failed before sending a token.</summary>
    public void Release()
    {
        lock (_gate)
        {
            Debug.Assert(_reserved > 0, "Release without a reservation");
            _reserved--;
            Pump();
        }
    }

    private bool TryGrant(bool reserve)
    {
        lock (_gate)
        {
            if (_waiters.Count > 0) return false;
            Refill();
            if (_tokens - _reserved < 1 || (reserve && _reserved >= _maxReserved)) return false;
            Grant(reserve);
            return true;
        }
    }

    private async ValueTask WaitAsync(bool reserve, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var waiter = new Waiter(this, reserve);
        lock (_gate)
        {
            Refill();
            if (_waiters.Count == 0 && _tokens - _reserved >= 1 && !(reserve && _reserved >= _maxReserved))
            {
                Grant(reserve);
                return;
            }
            _waiters.Enqueue(waiter);
            Pump();
        }
        using (cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Cancel(token), waiter))
        {
            await waiter.Completion.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Grants waiters in order while permits are free, then arms the timer for the next permit. Under the lock.</summary>
    private void Pump()
    {
        Refill();
        while (_waiters.TryPeek(out var next))
        {
            if (next.Completion.Task.IsCompleted)
            {
                _waiters.Dequeue(); // cancelled
                continue;
            }
            if (_tokens - _reserved < 1 || (next.Reserve && _reserved >= _maxReserved)) break;
            _waiters.Dequeue();
            // A waiter cancelled at this very moment keeps its cancellation and takes nothing.
            if (next.Completion.TrySetResult()) Grant(next.Reserve);
        }
        // A head waiting only for a reservation slot is woken by UseReserved or Release, not by the refill.
        if (_waiters.Count > 0 && !_timerArmed && _tokens - _reserved < 1)
        {
            double missing = 1 - (_tokens - _reserved);
            // Permits held by reservations come back through Release or turn into sent tokens; the refill covers the rest.
            var due = TimeSpan.FromSeconds(Math.Max(0.001, missing / _ratePerSecond));
            _timer ??= _time.CreateTimer(static state => ((ConnectPacer)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(due, Timeout.InfiniteTimeSpan);
            _timerArmed = true;
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            _timerArmed = false;
            Pump();
        }
    }

    private void Grant(bool reserve)
    {
        if (reserve) _reserved++;
        else _tokens -= 1;
    }

    /// <summary>Adds what the rate earned since the last refill, up to the capacity. Under the lock.</summary>
    private void Refill()
    {
        long now = _time.GetTimestamp();
        double earned = (now - _refilledAt) * _ratePerSecond / _time.TimestampFrequency;
        _refilledAt = now;
        _tokens = Math.Min(_capacity, _tokens + earned);
    }

    private sealed class Waiter(ConnectPacer pacer, bool reserve)
    {
        public bool Reserve { get; } = reserve;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Cancels the wait, and lets the waiters behind it be served at once.</summary>
        public void Cancel(CancellationToken token)
        {
            if (!Completion.TrySetCanceled(token)) return;
            lock (pacer._gate)
            {
                pacer.Pump();
            }
        }
    }
}
