using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Dsql.Connector;

/// <summary>
/// The observable gauge <c>dsql.endpoint.health</c>: 1 for each endpoint of a live data source over several regional
/// endpoints that its router takes to be serving, 0 for one it took out of use; tagged <c>dsql.endpoint</c> and
/// <c>dsql.region</c>. Nothing is computed unless a listener collects it.
/// </summary>
internal static class EndpointHealthGauge
{
    private static readonly ConcurrentDictionary<EndpointRouter, byte> Routers = new();

    private static readonly ObservableGauge<int> Gauge = DsqlTelemetry.Meter.CreateObservableGauge("dsql.endpoint.health", Observe, "{endpoint}",
        "1 while an endpoint of a data source over several regional endpoints is taken to be serving, 0 while it is out of use (unhealthy), tagged with the endpoint and Region.");

    /// <summary>Starts reporting the endpoints of <paramref name="router"/>.</summary>
    public static void Add(EndpointRouter router)
    {
        _ = Gauge; // the instrument exists once a router does
        Routers.TryAdd(router, 0);
    }

    /// <summary>Stops reporting them (the data source was disposed).</summary>
    public static void Remove(EndpointRouter router) => Routers.TryRemove(router, out _);

    private static IEnumerable<Measurement<int>> Observe()
    {
        foreach (var router in Routers.Keys)
        {
            var status = router.Status();
            for (int i = 0; i < status.Count; i++)
                yield return new Measurement<int>(status[i].IsHealthy ? 1 : 0, router.Members[i].Tags);
        }
    }
}
