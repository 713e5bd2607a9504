namespace Dsql.Emulator;

/// <summary>
/// How an endpoint made unavailable with <see cref="EndpointFaults.Unavailable"/> fails, the way a DSQL regional
/// endpoint can during a Region impairment. Every mode affects that endpoint alone: the other endpoints over the same
/// backend keep serving.
/// </summary>
public enum EndpointOutage
{
    /// <summary>No outage: the endpoint serves normally (<see cref="EndpointFaults.Available"/>).</summary>
    None,

    /// <summary>
    /// New connections fail fast: after their TLS handshake and startup message, and before the token is asked for,
    /// they are answered FATAL <c>XX000 server unavailable</c> and closed. Sessions already open keep working.
    /// This is the default mode: DSQL's front end terminates TLS in the Region and answers in the PostgreSQL protocol
    /// (its documented connect errors, 53300 and 53400, come this way), so an impairment behind it most plausibly shows
    /// as a FATAL error at connect, with the wording DSQL uses for an impaired Region.
    /// </summary>
    RefuseConnects,

    /// <summary>
    /// New connections are reset at accept (TCP RST, no TLS, no PostgreSQL message), as when the Region's front end is
    /// itself unreachable. Sessions already open keep working.
    /// </summary>
    ResetConnects,

    /// <summary>
    /// Every open session on the endpoint ends with FATAL <c>57P01</c> (as <see cref="EmulatorFaults.CloseAllSessions"/>
    /// does), and while the outage lasts new connections are answered FATAL <c>57P01</c> after their startup message.
    /// </summary>
    CutSessions,

    /// <summary>
    /// Every open session on the endpoint is closed without a message (its socket is closed, as a network partition
    /// would), and while the outage lasts new connections are reset at accept.
    /// </summary>
    DropSessions,

    /// <summary>
    /// Connections succeed, and every statement on the endpoint (on open sessions and on new ones, their first
    /// included) fails with <c>XX000 server unavailable</c>. Inside a transaction the failure aborts it: the client
    /// must roll back (a plain <c>ROLLBACK</c> is let through). A <c>COMMIT</c> answered this way commits nothing,
    /// unless <see cref="EndpointFaults.CommitOutcome"/> says it did.
    /// </summary>
    ServerUnavailable,

    /// <summary>
    /// New connections are accepted and never answered (nothing is read or sent) until the outage ends, when they are
    /// closed, or until the emulator's <see cref="DsqlEmulatorOptions.HandshakeTimeout"/>. Sessions already open keep
    /// working.
    /// </summary>
    StallConnects,
}
