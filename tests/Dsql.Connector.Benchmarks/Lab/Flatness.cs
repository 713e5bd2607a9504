namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>Whether a series of samples taken over a long run stays flat.</summary>
internal static class Flatness
{
    /// <summary>
    /// Leaves out the warm-up (the first fifth of the samples) and returns the median of the first third of the rest
    /// and the median of its last third; null when fewer than three samples remain to judge by.
    /// </summary>
    public static (double First, double Last)? Thirds(IReadOnlyList<double> samples)
    {
        var steady = samples.Skip(samples.Count / 5).ToArray();
        int third = steady.Length / 3;
        if (third < 1) return null;
        return (Stats.Median(steady.Take(third)), Stats.Median(steady.Skip(steady.Length - third)));
    }
}
