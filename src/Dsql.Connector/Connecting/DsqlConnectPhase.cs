namespace Dsql.Connector;

/// <summary>Where an open of a <see cref="DsqlDataSource"/> was when its <c>Timeout</c> ran out (<see cref="DsqlConnectTimeoutException.Phase"/>).</summary>
public enum DsqlConnectPhase
{
    /// <summary>
    /// Waiting for a pooled connection to come free (the pool was at Max Pool Size) or for the TCP connection to the
    /// server. Nothing of the TLS handshake had started.
    /// </summary>
    Connecting,

    /// <summary>
    /// The TCP connection was up and the TLS handshake did not finish, or the server did not ask for the token after it:
    /// the server (or a proxy, tunnel or firewall on the way) accepted the connection and stopped answering.
    /// </summary>
    TlsHandshake,

    /// <summary>Getting the IAM token: resolving AWS credentials (which may call instance metadata, SSO or STS) and signing.</summary>
    Token,

    /// <summary>Waiting for a permit of the endpoint's connection-rate bucket (<c>Connection Rate Per Second</c>, <c>Connection Burst</c>).</summary>
    ConnectPermit,

    /// <summary>The token was sent and the server did not finish authentication and session start-up (no ReadyForQuery).</summary>
    Authentication,

    /// <summary>Waiting between attempts after a throttled or failed connect (<c>Connect Retries</c>).</summary>
    RetryDelay,
}
