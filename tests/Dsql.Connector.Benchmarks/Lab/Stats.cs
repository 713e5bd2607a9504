namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>The few statistics the lab reports.</summary>
internal static class Stats
{
    /// <summary>The nearest-rank percentile (0 &lt; p &lt;= 1) of values already sorted ascending; NaN when there are none.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(p);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 1);
        if (sorted.Count == 0) return double.NaN;
        int rank = (int)Math.Ceiling(p * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    /// <summary>The median of unsorted values (the mean of the middle two for an even count); NaN when there are none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>The least-squares slope of y against x; NaN with fewer than two distinct x.</summary>
    public static double Slope(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count != y.Count) throw new ArgumentException($"x has {x.Count} values and y has {y.Count}; they must pair up.", nameof(y));
        if (x.Count < 2) return double.NaN;
        double meanX = x.Average(), meanY = y.Average();
        double sxx = 0, sxy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            sxx += (x[i] - meanX) * (x[i] - meanX);
            sxy += (x[i] - meanX) * (y[i] - meanY);
        }
        return sxx == 0 ? double.NaN : sxy / sxx;
    }

    /// <summary>
    /// The theoretical shortest time for <paramref name="connects"/> connects under a token bucket that starts full
    /// with <paramref name="burst"/> tokens and refills at <paramref name="ratePerSecond"/>: zero while the burst lasts.
    /// </summary>
    public static TimeSpan MinimumStormTime(int connects, int burst, double ratePerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(connects);
        ArgumentOutOfRangeException.ThrowIfNegative(burst);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        return TimeSpan.FromSeconds(Math.Max(0, connects - burst) / ratePerSecond);
    }
}
