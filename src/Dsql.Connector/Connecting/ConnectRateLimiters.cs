using System.Collections.Concurrent;

namespace Dsql.Connector;

/// <summary>
/// One <see cref="ConnectPacer"/> per DSQL endpoint for the whole process, shared by every data source that connects
/// to it, so that together they stay under DSQL's connection-rate quota (100/s, burst 1,000) and never cause 53400.
/// The first data source to use an endpoint sets its pacer's rate and burst.
/// </summary>
internal static class ConnectRateLimiters
{
    private static readonly ConcurrentDictionary<string, ConnectPacer> Pacers = new(StringComparer.OrdinalIgnoreCase);

    public static ConnectPacer For(string endpoint, double ratePerSecond, int burst)
        => Pacers.GetOrAdd(endpoint, static (_, settings) => new ConnectPacer(settings.ratePerSecond, settings.burst), (ratePerSecond, burst));
}
