namespace Dsql.Sync.Bulk;

/// <summary>
/// Chunk latencies in log-spaced buckets (each 5% wider than the last, from 0.1 ms to about 11 hours): percentiles
/// within 5% in constant memory, whatever the number of chunks. Not thread-safe; the writer locks around it.
/// </summary>
internal sealed class LatencyHistogram
{
    private const double Smallest = 0.1; // milliseconds
    private static readonly double Growth = Math.Log(1.05);
    private readonly long[] _buckets = new long[400];
    private long _count;

    public void Add(TimeSpan latency)
    {
        double ms = Math.Max(latency.TotalMilliseconds, Smallest);
        int bucket = Math.Min((int)(Math.Log(ms / Smallest) / Growth), _buckets.Length - 1);
        _buckets[bucket]++;
        _count++;
    }

    /// <summary>The upper bound of the bucket holding the <paramref name="quantile"/> (0..1) latency; zero when empty.</summary>
    public TimeSpan Percentile(double quantile)
    {
        if (_count == 0) return TimeSpan.Zero;
        long rank = Math.Max(1, (long)Math.Ceiling(quantile * _count));
        long seen = 0;
        for (int i = 0; i < _buckets.Length; i++)
        {
            seen += _buckets[i];
            if (seen >= rank) return TimeSpan.FromMilliseconds(Smallest * Math.Exp(Growth * (i + 1)));
        }
        return TimeSpan.FromMilliseconds(Smallest * Math.Exp(Growth * _buckets.Length));
    }
}
