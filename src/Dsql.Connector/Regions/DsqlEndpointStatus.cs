namespace Dsql.Connector;

/// <summary>One regional endpoint of a <see cref="DsqlDataSource"/>, as its router sees it now (<see cref="DsqlDataSource.Endpoints"/>).</summary>
/// <param name="Endpoint">The endpoint's host name, which its tokens are signed for.</param>
/// <param name="Region">The Region its tokens are signed for.</param>
/// <param name="IsPreferred">Whether it is the endpoint opens go to while it is healthy.</param>
/// <param name="IsActive">Whether opens go to it now.</param>
/// <param name="IsHealthy">Whether it is taken to be serving: false after <see cref="DsqlFailoverOptions.FailureThreshold"/> Region failures, true again after its probes succeed.</param>
/// <param name="Since">When it last became healthy or unhealthy (when the data source was built, if never).</param>
/// <param name="LastFailure">What its last Region failure was (a SQLSTATE or the kind of failure, never a message), or null.</param>
public sealed record DsqlEndpointStatus(string Endpoint, string Region, bool IsPreferred, bool IsActive, bool IsHealthy, DateTimeOffset Since, string? LastFailure);
