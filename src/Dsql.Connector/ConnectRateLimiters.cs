using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace Dsql.Connector;

/// <summary>
/// One token bucket per DSQL endpoint for the whole process, shared by every data source that connects to it, so
/// that together they stay under DSQL's connection-rate quota (100/s, burst 1,000) and never cause 53400.
/// The first data source to use an endpoint sets its bucket's rate and burst.
/// </summary>
internal static class ConnectRateLimiters
{
    private static readonly ConcurrentDictionary<string, TokenBucketRateLimiter> Buckets = new(StringComparer.OrdinalIgnoreCase);

    public static TokenBucketRateLimiter For(string endpoint, double ratePerSecond, int burst)
        => Buckets.GetOrAdd(endpoint, static (_, settings) => Create(settings.ratePerSecond, settings.burst), (ratePerSecond, burst));

    internal static TokenBucketRateLimiter Create(double ratePerSecond, int burst)
    {
        // Replenish in small steps (about every 100 ms) so that a drained bucket releases connects steadily.
        int tokensPerPeriod = Math.Max(1, (int)Math.Round(ratePerSecond / 10));
        var period = TimeSpan.FromSeconds(tokensPerPeriod / ratePerSecond);
        // A step can land just after the burst was spent, before the server's continuously refilling bucket has
        // earned the same tokens; holding one step back from the burst keeps the client behind the server.
        int limit = Math.Max(1, burst - tokensPerPeriod);
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = period,
            AutoReplenishment = true,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }
}
