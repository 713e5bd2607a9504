using System.Diagnostics;
using Dsql.Connector.Tests.Infrastructure;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Dsql.Connector.Tests;

/// <summary>AddDsqlInstrumentation() (package Dsql.Connector.OpenTelemetry) with OpenTelemetry's SDK and in-memory exporters.</summary>
[Collection(BackendCollection.Name)]
public sealed class OpenTelemetryTests(BackendFixture backend)
{
    /// <summary>The names of the metrics exported with a point tagged with <paramref name="endpoint"/>.</summary>
    private static HashSet<string> MetricsOf(IEnumerable<Metric> metrics, string endpoint)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var metric in metrics)
            foreach (ref readonly var point in metric.GetMetricPoints())
                foreach (var tag in point.Tags)
                    if (tag.Key == "dsql.endpoint" && Equals(tag.Value, endpoint)) names.Add(metric.Name);
        return names;
    }

    private static async Task RunOneTransactionAsync(ConnectorHarness harness)
    {
        await using var dataSource = harness.Build("Pooling=false");
        int answer = await dataSource.ExecuteInTransactionAsync(async (connection, cancellationToken) =>
        {
            await using var command = new NpgsqlCommand("SELECT 6 * 7", connection);
            return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        });
        Assert.Equal(42, answer);
    }

    [Fact]
    public async Task AddDsqlInstrumentation_exports_the_connectors_metrics_and_transaction_traces()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var metrics = new List<Metric>();
        var activities = new List<Activity>();
        using var meterProvider = Sdk.CreateMeterProviderBuilder().AddDsqlInstrumentation().AddInMemoryExporter(metrics).Build();
        using var tracerProvider = Sdk.CreateTracerProviderBuilder().AddDsqlInstrumentation().AddInMemoryExporter(activities).Build();

        await RunOneTransactionAsync(harness);
        Assert.True(meterProvider.ForceFlush(10_000));
        Assert.True(tracerProvider.ForceFlush(10_000));

        var exported = MetricsOf(metrics, harness.Endpoint.Host);
        Assert.Contains("dsql.token.generated", exported);
        Assert.Contains("dsql.connect.attempts", exported);
        var transaction = Assert.Single(activities, a => a.OperationName == "dsql.transaction" && Equals(a.GetTagItem("dsql.endpoint"), harness.Endpoint.Host));
        Assert.Equal("Dsql.Connector", transaction.Source.Name);
        Assert.Equal(ActivityStatusCode.Unset, transaction.Status);
    }

    [Fact]
    public async Task Without_AddDsqlInstrumentation_nothing_of_the_connector_is_exported()
    {
        await using var harness = await ConnectorHarness.StartAsync(backend);
        var metrics = new List<Metric>();
        var activities = new List<Activity>();
        using var meterProvider = Sdk.CreateMeterProviderBuilder().AddMeter("Some.Other.Meter").AddInMemoryExporter(metrics).Build();
        using var tracerProvider = Sdk.CreateTracerProviderBuilder().AddSource("Some.Other.Source").AddInMemoryExporter(activities).Build();

        await RunOneTransactionAsync(harness);
        meterProvider.ForceFlush(10_000);
        tracerProvider.ForceFlush(10_000);

        Assert.Empty(MetricsOf(metrics, harness.Endpoint.Host));
        Assert.DoesNotContain(activities, a => a.Source.Name == "Dsql.Connector");
    }
}
