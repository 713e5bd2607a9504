namespace Dsql.Emulator.Front;

/// <summary>
/// DSQL's connection-rate rule as a token bucket: <c>burst</c> tokens, refilled at <c>ratePerSecond</c>;
/// each connection attempt takes one. Driven by the monotonic timestamp, so moving the emulator's clock does not refill it.
/// </summary>
internal sealed class ConnectionRateLimiter
{
    private readonly double _ratePerTick;
    private readonly double _burst;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private double _tokens;
    private long _lastTimestamp;

    public ConnectionRateLimiter(double ratePerSecond, int burst, TimeProvider time)
    {
        _time = time;
        _burst = burst;
        _tokens = burst;
        _ratePerTick = ratePerSecond / time.TimestampFrequency;
        _lastTimestamp = time.GetTimestamp();
    }

    public bool TryAcquire()
    {
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (now - _lastTimestamp) * _ratePerTick);
            _lastTimestamp = now;
            if (_tokens < 1) return false;
            _tokens -= 1;
            return true;
        }
    }
}
