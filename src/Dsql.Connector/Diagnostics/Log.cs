using Microsoft.Extensions.Logging;

namespace Dsql.Connector;

/// <summary>The connector's log messages. None carries a token, a signature or a secret.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Signed a DSQL token for {User} at {Host} ({Region}), valid until {ExpiresAt:O}, in {Milliseconds:F1} ms")]
    public static partial void TokenSigned(ILogger logger, string host, string region, string user, DateTimeOffset expiresAt, double milliseconds);

    [LoggerMessage(2, LogLevel.Warning, "Refreshing the DSQL token for {User} at {Host} ({Region}) failed; the current token stays in use while it is valid")]
    public static partial void TokenRefreshFailed(ILogger logger, Exception exception, string host, string region, string user);

    [LoggerMessage(3, LogLevel.Warning, "TLS to {Host} is not verify-full (SSL Mode={SslMode}) because Allow Insecure Tls is set: the server's identity is not checked")]
    public static partial void InsecureTls(ILogger logger, string host, string sslMode);

    [LoggerMessage(4, LogLevel.Information, "Connecting to {Host} failed ({Reason}); retry {Attempt} in {DelayMs:F0} ms")]
    public static partial void ConnectRetry(ILogger logger, string host, string reason, int attempt, double delayMs);

    [LoggerMessage(5, LogLevel.Warning, "DSQL refused the token for {User} at {Host} ({SqlState}); retrying once with a freshly signed token")]
    public static partial void AuthenticationRetry(ILogger logger, string host, string user, string sqlState);

    [LoggerMessage(6, LogLevel.Debug, "Connection rate limit for {Host}: waited {Milliseconds:F1} ms for a connect permit")]
    public static partial void RateLimitWait(ILogger logger, string host, double milliseconds);

    [LoggerMessage(7, LogLevel.Information, "DSQL data source for {Host} ({Region}) as {User}: pool {MinPool}-{MaxPool}, connection lifetime {LifetimeSeconds} s, connect rate {Rate}/s burst {Burst}")]
    public static partial void DataSourceBuilt(ILogger logger, string host, string region, string user, int minPool, int maxPool, int lifetimeSeconds, double rate, int burst);

    [LoggerMessage(8, LogLevel.Information, "Transaction conflicted ({Reason}); attempt {Attempt} in {DelayMs:F0} ms")]
    public static partial void TransactionConflictRetry(ILogger logger, int attempt, double delayMs, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Transaction guard: the transaction ran {Seconds:F1} s, past its limit of {LimitSeconds:F1} s; it was cancelled and rolled back")]
    public static partial void TransactionGuardTripped(ILogger logger, double seconds, double limitSeconds);

    [LoggerMessage(20, LogLevel.Information, "Transaction lost its connection before COMMIT was sent ({Reason}); nothing was committed; retry {Retry} on a fresh connection in {DelayMs:F0} ms")]
    public static partial void TransactionConnectionLostRetry(ILogger logger, int retry, double delayMs, string reason);

    [LoggerMessage(30, LogLevel.Warning, "DSQL endpoint {Host} ({Region}) is unhealthy ({Reason}); its idle connections are closed and it is probed until it recovers")]
    public static partial void EndpointUnhealthy(ILogger logger, string host, string region, string reason);

    [LoggerMessage(31, LogLevel.Information, "DSQL endpoint {Host} ({Region}) recovered: its probes succeeded")]
    public static partial void EndpointRecovered(ILogger logger, string host, string region);

    [LoggerMessage(32, LogLevel.Warning, "DSQL routing: opens move from {From} to {To} ({Region}): {Why}")]
    public static partial void RouteChanged(ILogger logger, string from, string to, string region, string why);

    [LoggerMessage(33, LogLevel.Information, "DSQL data source over {Count} endpoints ({Endpoints}); preferred: {Preferred} ({Region})")]
    public static partial void MultiRegionBuilt(ILogger logger, int count, string endpoints, string preferred, string region);
}
