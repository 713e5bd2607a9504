using Dsql.Connector;

namespace OpenTelemetry.Trace;

/// <summary>Adds Dsql.Connector's traces to an OpenTelemetry <see cref="TracerProviderBuilder"/>.</summary>
public static class DsqlTracerProviderBuilderExtensions
{
    /// <summary>
    /// Collects the connector's activity source (<c>Dsql.Connector</c>): one <c>dsql.transaction</c> activity per
    /// <see cref="DsqlDataSource.ExecuteInTransactionAsync{T}"/>
    /// call, with its attempts and retry delays. Npgsql's own command activities come from Npgsql's source (<c>Npgsql</c>).
    /// </summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static TracerProviderBuilder AddDsqlInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(DsqlTelemetry.Name);
    }
}
