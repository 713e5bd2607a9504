using Dsql.Connector;

namespace OpenTelemetry.Metrics;

/// <summary>Adds Dsql.Connector's metrics to an OpenTelemetry <see cref="MeterProviderBuilder"/>.</summary>
public static class DsqlMeterProviderBuilderExtensions
{
    /// <summary>
    /// Collects the connector's meter (<c>Dsql.Connector</c>): token signing and cache, connects and their failures by
    /// reason, pacing, pool use, transactions, attempts and retries. Tags never carry a token or a secret.
    /// </summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static MeterProviderBuilder AddDsqlInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(DsqlTelemetry.Name);
    }
}
