using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Connector.Tests;

/// <summary>
/// What a data source over several endpoints records when its preferred endpoint is unreachable: each endpoint's own
/// metrics carry that endpoint and its Region, the health gauge says 0 and 1, and the transaction's attempt event
/// names the endpoint that served it.
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class MultiRegionTelemetryTests(BackendFixture backend)
{
    private sealed record Recorded(string Name, double Value, IReadOnlyDictionary<string, object?> Tags);
    [Fact]
    public async Task Each_endpoint_records_under_its_own_name_and_Region_and_the_attempt_names_the_endpoint_that_served_it()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var east = harness.Endpoint;
        string dead = $"{ConnectorHarness.UniqueClusterId()}.dsql.eu-west-1.on.aws";
        string[] ours = [dead, east.Host];

        var recorded = new ConcurrentQueue<Recorded>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Dsql.Connector") listener.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags) copy[tag.Key] = tag.Value;
            if (copy.GetValueOrDefault("dsql.endpoint") is string endpoint && ours.Contains(endpoint)) recorded.Enqueue(new(instrument.Name, value, copy));
        }
        meters.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        meters.Start();
        var activities = new ConcurrentQueue<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Dsql.Connector",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { if (a.GetTagItem("dsql.endpoint") is string e && ours.Contains(e)) activities.Enqueue(a); },
        };
        ActivitySource.AddActivityListener(activityListener);

        int closed = ConnectorHarness.ClosedPort();
        await using var dataSource = harness.Builder("Connect Retries=0")
            .AddEndpoint(dead, s => { s.HostAddress = "127.0.0.1"; s.Port = closed; s.RootCertificate = east.CaCertificatePath; })
            .PreferRegion("eu-west-1")
            .ConfigureFailover(o => o.FailureThreshold = 1)
            .Build();

        int answer = await dataSource.ExecuteInTransactionAsync(async (connection, ct) =>
            (int)(await new NpgsqlCommand("SELECT 42", connection).ExecuteScalarAsync(ct))!);
        meters.RecordObservableInstruments();

        Assert.Equal(42, answer);
        var all = recorded.ToArray();
        Assert.Contains(all, m => m.Name == "dsql.connect.failures" && (string?)m.Tags["dsql.endpoint"] == dead && (string?)m.Tags["dsql.region"] == "eu-west-1" && (string?)m.Tags["reason"] == "network");
        Assert.Contains(all, m => m.Name == "dsql.connect.attempts" && (string?)m.Tags["dsql.endpoint"] == east.Host && (string?)m.Tags["dsql.region"] == "us-east-1");
        Assert.Contains(all, m => m.Name == "dsql.token.generated" && (string?)m.Tags["dsql.endpoint"] == east.Host && (string?)m.Tags["dsql.region"] == "us-east-1");
        Assert.DoesNotContain(all, m => m.Name == "dsql.token.generated" && (string?)m.Tags["dsql.endpoint"] == dead); // no connection got as far as a token
        Assert.Contains(all, m => m.Name == "dsql.endpoint.failovers" && (string?)m.Tags["dsql.endpoint"] == dead);
        Assert.Contains(all, m => m.Name == "dsql.endpoint.route.changes" && (string?)m.Tags["dsql.endpoint"] == east.Host);
        var health = all.Where(m => m.Name == "dsql.endpoint.health").ToDictionary(m => (string)m.Tags["dsql.endpoint"]!, m => (m.Value, m.Tags["dsql.region"]));
        Assert.Equal((0d, (object?)"eu-west-1"), health[dead]);
        Assert.Equal((1d, (object?)"us-east-1"), health[east.Host]);

        var transaction = Assert.Single(activities, a => a.OperationName == "dsql.transaction");
        var attempt = Assert.Single(transaction.Events, e => e.Name == "attempt");
        Assert.Equal(east.Host, attempt.Tags.Single(t => t.Key == "dsql.endpoint").Value);
        Assert.Equal("committed", attempt.Tags.Single(t => t.Key == "outcome").Value);

        // Once disposed, the data source's endpoints leave the gauge.
        await dataSource.DisposeAsync();
        while (recorded.TryDequeue(out _)) { }
        meters.RecordObservableInstruments();
        Assert.DoesNotContain(recorded, m => m.Name == "dsql.endpoint.health");
    }
}
