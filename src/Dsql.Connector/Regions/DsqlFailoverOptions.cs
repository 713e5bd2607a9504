namespace Dsql.Connector;

/// <summary>
/// How a data source over several regional endpoints (<see cref="DsqlDataSourceBuilder.AddEndpoint"/>) decides that
/// an endpoint is impaired, and when it goes back to it. Plain data, checked and copied by
/// <see cref="DsqlDataSourceBuilder.Build"/>.
/// </summary>
public sealed class DsqlFailoverOptions
{
    /// <summary>
    /// Region failures (a connect that fails or times out, a session cut, <c>XX000 server unavailable</c>, connects
    /// throttled past their retries) within <see cref="FailureWindow"/> that make an endpoint unhealthy (1 to 100;
    /// default 2). Whatever the count, an operation that fails on one endpoint is tried on the next one at once.
    /// </summary>
    public int FailureThreshold { get; set; } = 2;

    /// <summary>How far back failures count toward <see cref="FailureThreshold"/> (1 s to 10 min; default 10 s).</summary>
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often an unhealthy endpoint is probed with a new connection and <c>SELECT 1</c> (100 ms to 5 min; default 1 s).</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Probes in a row that must succeed before an unhealthy endpoint is used again (1 to 100; default 3).</summary>
    public int RecoveryProbes { get; set; } = 3;

    /// <summary>
    /// The least time from an endpoint's last failure to its use again (0 to 1 hour; default 10 s), so that an
    /// endpoint that fails now and then does not pull the traffic back and forth.
    /// </summary>
    public TimeSpan FailbackDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one open may spend on one endpoint before the next is tried (100 ms to 5 min; default 3 s). The whole
    /// open stays within the <c>Timeout</c> setting.
    /// </summary>
    public TimeSpan EndpointOpenTimeout { get; set; } = TimeSpan.FromSeconds(3);

    internal DsqlFailoverOptions Copy() => (DsqlFailoverOptions)MemberwiseClone();

    internal void Validate()
    {
        Check(FailureThreshold is >= 1 and <= 100, nameof(FailureThreshold), $"{FailureThreshold}", "1 to 100");
        Check(FailureWindow >= TimeSpan.FromSeconds(1) && FailureWindow <= TimeSpan.FromMinutes(10), nameof(FailureWindow), $"{FailureWindow}", "1 second to 10 minutes");
        Check(ProbeInterval >= TimeSpan.FromMilliseconds(100) && ProbeInterval <= TimeSpan.FromMinutes(5), nameof(ProbeInterval), $"{ProbeInterval}", "100 ms to 5 minutes");
        Check(RecoveryProbes is >= 1 and <= 100, nameof(RecoveryProbes), $"{RecoveryProbes}", "1 to 100");
        Check(FailbackDelay >= TimeSpan.Zero && FailbackDelay <= TimeSpan.FromHours(1), nameof(FailbackDelay), $"{FailbackDelay}", "0 to 1 hour");
        Check(EndpointOpenTimeout >= TimeSpan.FromMilliseconds(100) && EndpointOpenTimeout <= TimeSpan.FromMinutes(5), nameof(EndpointOpenTimeout), $"{EndpointOpenTimeout}", "100 ms to 5 minutes");
    }

    private static void Check(bool valid, string name, string value, string range)
    {
        if (!valid) throw new DsqlConfigurationException($"Failover.{name}", $"Failover.{name} is {value}: it must be {range}.");
    }
}
