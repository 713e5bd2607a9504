using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Health of a DSQL data source: opens a connection and runs <c>SELECT 1</c> within a timeout. Unhealthy says why
/// (authentication, TLS, rate limit, network, timeout, server); Degraded while connects are being throttled.
/// Over several regional endpoints, the data list each endpoint (<c>endpoints</c>: endpoint, region, healthy, active,
/// preferred, last failure); the result is Degraded when a peer answered because the preferred endpoint is unhealthy or
/// failed this check's open, and Unhealthy when no endpoint answered.
/// </summary>
public sealed class DsqlHealthCheck : IHealthCheck
{
    private readonly DsqlDataSource _dataSource;
    private readonly TimeSpan _timeout;

    /// <summary>Creates a check for one data source.</summary>
    public DsqlHealthCheck(DsqlDataSource dataSource, TimeSpan timeout)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The health check timeout must be positive.");
        _timeout = timeout;
    }

    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        var data = new Dictionary<string, object> { ["endpoint"] = _dataSource.Endpoint, ["region"] = _dataSource.Region };
        DsqlDataSource? served;
        try
        {
            // Over several endpoints the open fails over like any other, and says which endpoint served it.
            var (opened, endpoint) = await _dataSource.OpenForAttemptAsync(null, timeout.Token).ConfigureAwait(false);
            served = endpoint;
            await using var connection = opened;
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            string reason = Classify(ex, timeout.IsCancellationRequested);
            data["reason"] = reason;
            if (_dataSource.IsMultiRegion)
            {
                data["endpoints"] = EndpointData(_dataSource.Endpoints);
                return new HealthCheckResult(context.Registration.FailureStatus, $"No endpoint of the multi-Region cluster serves ({string.Join(", ", _dataSource.Endpoints.Select(e => e.Endpoint))}); the last answer: " + Describe(reason, ex), ex, data);
            }
            return new HealthCheckResult(context.Registration.FailureStatus, Describe(reason, ex), ex, data);
        }
        if (_dataSource.IsMultiRegion && served is not null)
        {
            var endpoints = _dataSource.Endpoints;
            data["endpoint"] = served.Endpoint;
            data["region"] = served.Region;
            data["endpoints"] = EndpointData(endpoints);
            var preferred = endpoints.First(e => e.IsPreferred);
            // A peer answered: the preferred endpoint is out of use, or failed this very open.
            if (!string.Equals(served.Endpoint, preferred.Endpoint, StringComparison.Ordinal))
            {
                data["reason"] = "failover";
                string why = preferred.IsHealthy ? $"failed this check's open ({preferred.LastFailure ?? "unknown"})" : $"is unhealthy (last failure: {preferred.LastFailure ?? "unknown"})";
                return HealthCheckResult.Degraded($"The preferred DSQL endpoint {preferred.Endpoint} ({preferred.Region}) {why}; {served.Endpoint} ({served.Region}) serves.", data: data);
            }
        }
        // Over several endpoints, throttling is remembered by the endpoint that answered.
        if ((served ?? _dataSource).IsConnectThrottled)
        {
            data["reason"] = "rate_limit";
            return HealthCheckResult.Degraded($"DSQL at {(served ?? _dataSource).Endpoint} answers, but connects were throttled in the last {DsqlDataSource.ThrottleMemory.TotalSeconds:F0} s (connection-rate limit).", data: data);
        }
        return HealthCheckResult.Healthy($"DSQL at {(served ?? _dataSource).Endpoint} answers.", data);
    }

    /// <summary>One entry per endpoint, with plain values a health report writer can print.</summary>
    private static IReadOnlyList<IReadOnlyDictionary<string, object?>> EndpointData(IReadOnlyList<DsqlEndpointStatus> endpoints)
        => endpoints.Select(e => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["endpoint"] = e.Endpoint,
            ["region"] = e.Region,
            ["healthy"] = e.IsHealthy,
            ["active"] = e.IsActive,
            ["preferred"] = e.IsPreferred,
            ["lastFailure"] = e.LastFailure,
        }).ToArray();

    /// <summary>
    /// The <c>reason</c> of an unhealthy result: the connector's own classification of failed opens, in the health
    /// check's terms. An open that ran out of its budget, or a check cut by its own timeout, is <c>timeout</c>, however
    /// Npgsql wrapped the cancellation.
    /// </summary>
    internal static string Classify(Exception exception, bool timedOut)
    {
        if (exception is DsqlConnectTimeoutException) return "timeout";
        if (exception is not PostgresException && (timedOut || exception is OperationCanceledException)
            && DsqlErrors.FindPostgresException(exception) is null && !DsqlTlsException.IsTlsFailure(exception)) return "timeout";
        return DsqlDataSource.ConnectFailureReason(exception) switch
        {
            DsqlTelemetry.Reasons.TooManyConnections => "rate_limit",
            DsqlTelemetry.Reasons.Other => exception is PostgresException || DsqlErrors.FindPostgresException(exception) is not null ? "server" : "network",
            var reason => reason,
        };
    }

    private string Describe(string reason, Exception exception) => reason switch
    {
        "auth" => $"DSQL at {_dataSource.Endpoint} refused the IAM token: check the credentials and the permission dsql:DbConnect / dsql:DbConnectAdmin.",
        "tls" => exception is DsqlTlsException ? exception.Message : $"The TLS handshake with {_dataSource.Endpoint} failed: the certificate could not be verified ({exception.GetBaseException().Message}).",
        "rate_limit" => $"DSQL at {_dataSource.Endpoint} refused connections: rate or connection limit reached.",
        "timeout" => exception is DsqlConnectTimeoutException ? exception.Message : $"DSQL at {_dataSource.Endpoint} did not answer within the health check's timeout of {_timeout.TotalSeconds:0.#} s.",
        "network" => $"DSQL at {_dataSource.Endpoint} could not be reached: {exception.GetBaseException().Message}",
        _ => $"DSQL at {_dataSource.Endpoint} answered with an error: {exception.Message}",
    };
}

/// <summary>Adds the DSQL health check to ASP.NET Core / Microsoft.Extensions health checks.</summary>
public static class DsqlHealthChecksBuilderExtensions
{
    /// <summary>
    /// Checks the registered <see cref="DsqlDataSource"/> (the keyed one when <paramref name="serviceKey"/> is given)
    /// with <c>SELECT 1</c> within <paramref name="timeout"/> (default 5 s).
    /// </summary>
    public static IHealthChecksBuilder AddDsql(this IHealthChecksBuilder builder, string name = "dsql", object? serviceKey = null,
        TimeSpan? timeout = null, HealthStatus failureStatus = HealthStatus.Unhealthy, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var limit = timeout ?? TimeSpan.FromSeconds(5);
        if (limit <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The health check timeout must be positive.");
        return builder.Add(new HealthCheckRegistration(name,
            provider => new DsqlHealthCheck(serviceKey is null ? provider.GetRequiredService<DsqlDataSource>() : provider.GetRequiredKeyedService<DsqlDataSource>(serviceKey), limit),
            failureStatus, tags, limit + TimeSpan.FromSeconds(1)));
    }
}
