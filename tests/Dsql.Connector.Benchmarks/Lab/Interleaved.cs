using System.Diagnostics;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>
/// Side-by-side timing that holds on a noisy machine: the variants run in alternating blocks (the order rotating
/// every round), so that a change in the machine's load hits every variant alike, and a ratio is the median over
/// rounds of the two variants' times in the same round.
/// </summary>
internal static class Interleaved
{
    /// <summary>Per-operation time of every variant in every measured round (µs), index-aligned across variants.</summary>
    internal sealed class Rounds(IReadOnlyList<string> names, double[][] perOperationMicros)
    {
        public IReadOnlyList<string> Names { get; } = names;

        public int Count => perOperationMicros[0].Length;

        public IReadOnlyList<double> Of(string name) => perOperationMicros[IndexOf(name)];

        /// <summary>The median per-operation time of a variant (µs).</summary>
        public double Median(string name) => Stats.Median(Of(name));

        /// <summary>The median over rounds of <paramref name="ours"/> / <paramref name="baseline"/>, and its interquartile range.</summary>
        public (double Median, double Low, double High) Ratio(string baseline, string ours)
        {
            var a = Of(baseline);
            var b = Of(ours);
            var ratios = Enumerable.Range(0, a.Count).Select(i => b[i] / a[i]).Order().ToArray();
            return (Stats.Median(ratios), Stats.Percentile(ratios, 0.25), Stats.Percentile(ratios, 0.75));
        }

        private int IndexOf(string name)
        {
            for (int i = 0; i < Names.Count; i++)
            {
                if (Names[i] == name) return i;
            }
            throw new ArgumentException($"No variant named '{name}'; the variants are {string.Join(", ", Names)}.", nameof(name));
        }
    }

    /// <summary>
    /// Runs <paramref name="warmupRounds"/> unrecorded rounds and then <paramref name="rounds"/> recorded ones; in each
    /// round every variant runs <paramref name="operationsPerBlock"/> operations back to back, in an order that rotates.
    /// Every <paramref name="resetEvery"/> recorded rounds <paramref name="reset"/> runs first (for example to give
    /// each variant fresh connections, so that one server process's place on the machine does not favour one side
    /// for the whole run), followed by one unrecorded operation of each variant.
    /// </summary>
    public static async Task<Rounds> RunAsync(IReadOnlyList<(string Name, Func<Task> Operation)> variants, int operationsPerBlock, int rounds, int warmupRounds,
        Func<Task>? reset = null, int resetEvery = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(variants.Count, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(operationsPerBlock, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var times = variants.Select(_ => new double[rounds]).ToArray();
        for (int round = -warmupRounds; round < rounds; round++)
        {
            if (reset is not null && resetEvery > 0 && round > 0 && round % resetEvery == 0)
            {
                await reset();
                foreach (var variant in variants) await variant.Operation();
            }
            for (int k = 0; k < variants.Count; k++)
            {
                int v = (k + Math.Max(round, 0)) % variants.Count;
                long started = Stopwatch.GetTimestamp();
                for (int i = 0; i < operationsPerBlock; i++) await variants[v].Operation();
                double micros = Stopwatch.GetElapsedTime(started).TotalMicroseconds / operationsPerBlock;
                if (round >= 0) times[v][round] = micros;
            }
        }
        return new Rounds(variants.Select(v => v.Name).ToArray(), times);
    }
}
