using Microsoft.Extensions.Logging;

namespace Dsql.Emulator;

/// <summary>The emulator's log messages. None of them carries a token, a secret or a signature.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "DSQL emulator ready: endpoint {Host} ({Region}) on 127.0.0.1:{Port}")]
    public static partial void EndpointReady(ILogger logger, string host, string region, int port);

    [LoggerMessage(2, LogLevel.Debug, "Session {SessionId}: user {User} connected to {Host} (backend pid {BackendPid})")]
    public static partial void SessionOpened(ILogger logger, long sessionId, string user, string host, int backendPid);

    [LoggerMessage(3, LogLevel.Debug, "Session {SessionId} closed")]
    public static partial void SessionClosed(ILogger logger, long sessionId);

    [LoggerMessage(4, LogLevel.Information, "Session {SessionId} ended: {Kind}: {Reason}")]
    public static partial void SessionEnded(ILogger logger, long sessionId, string kind, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Session {SessionId}: authentication failed for user {User} at {Host}: {Reason}")]
    public static partial void AuthenticationFailed(ILogger logger, long sessionId, string user, string host, string reason);

    [LoggerMessage(6, LogLevel.Information, "Session {SessionId}: refused with {SqlState}: {Message}")]
    public static partial void ConnectionRefused(ILogger logger, long sessionId, string sqlState, string message);

    [LoggerMessage(7, LogLevel.Information, "Session {SessionId}: plaintext startup refused (TLS is required)")]
    public static partial void PlaintextRefused(ILogger logger, long sessionId);

    [LoggerMessage(8, LogLevel.Information, "Session {SessionId}: invalid startup packet (length {Length}, code {Code})")]
    public static partial void BadStartupPacket(ILogger logger, long sessionId, int length, int code);

    [LoggerMessage(9, LogLevel.Information, "Session {SessionId}: TLS handshake failed: {Reason}")]
    public static partial void TlsFailed(ILogger logger, long sessionId, string reason);

    [LoggerMessage(10, LogLevel.Information, "Session {SessionId}: handshake not finished within {Seconds} s")]
    public static partial void HandshakeTimedOut(ILogger logger, long sessionId, double seconds);

    [LoggerMessage(11, LogLevel.Information, "Session {SessionId}: connection rate exceeded at {Host}")]
    public static partial void RateLimited(ILogger logger, long sessionId, string host);

    [LoggerMessage(12, LogLevel.Warning, "Session {SessionId}: backend unreachable: {Reason}")]
    public static partial void BackendUnreachable(ILogger logger, long sessionId, string reason);

    [LoggerMessage(13, LogLevel.Debug, "Session {SessionId}: statement refused with {SqlState}: {Message}")]
    public static partial void StatementRefused(ILogger logger, long sessionId, string sqlState, string message);

    [LoggerMessage(14, LogLevel.Information, "Session {SessionId}: connection age limit of {Minutes} min reached; closing")]
    public static partial void ConnectionAgeExceeded(ILogger logger, long sessionId, double minutes);

    [LoggerMessage(15, LogLevel.Information, "Session {SessionId}: transaction age limit of {Seconds} s reached; {Action}")]
    public static partial void TransactionAgeExceeded(ILogger logger, long sessionId, double seconds, string action);

    [LoggerMessage(16, LogLevel.Debug, "Session {SessionId}: cancel request to the backend failed: {Reason}")]
    public static partial void CancelFailed(ILogger logger, long sessionId, string reason);

    [LoggerMessage(17, LogLevel.Warning, "Endpoint {Host}: accept failed: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, string host, string reason);

    [LoggerMessage(18, LogLevel.Error, "Session {SessionId} failed unexpectedly")]
    public static partial void SessionFailed(ILogger logger, Exception exception, long sessionId);

    [LoggerMessage(19, LogLevel.Information, "Session {SessionId}: cut at COMMIT by fault injection ({Point})")]
    public static partial void SessionCutAtCommit(ILogger logger, long sessionId, string point);

    [LoggerMessage(20, LogLevel.Information, "Session {SessionId}: handshake stalled {Phase} (fault injection)")]
    public static partial void HandshakeStalled(ILogger logger, long sessionId, HandshakeStall phase);

    [LoggerMessage(21, LogLevel.Information, "Endpoint {Host} made unavailable by fault injection: {Outage}")]
    public static partial void EndpointMadeUnavailable(ILogger logger, string host, EndpointOutage outage);

    [LoggerMessage(22, LogLevel.Information, "Endpoint {Host} available again (fault injection ended)")]
    public static partial void EndpointAvailable(ILogger logger, string host);

    [LoggerMessage(23, LogLevel.Information, "Endpoint {Host} fails a fraction {Fraction} of connects and statements (fault injection, seed {Seed})")]
    public static partial void EndpointFailFraction(ILogger logger, string host, double fraction, int seed);

    [LoggerMessage(24, LogLevel.Debug, "Endpoint {Host}: connection reset at accept (fault injection)")]
    public static partial void ConnectionResetByOutage(ILogger logger, string host);

    [LoggerMessage(25, LogLevel.Debug, "Session {SessionId}: cut by the outage of endpoint {Host} (fault injection)")]
    public static partial void SessionCutByOutage(ILogger logger, long sessionId, string host);

    [LoggerMessage(26, LogLevel.Debug, "Session {SessionId}: statement answered XX000 server unavailable by the outage of endpoint {Host} (fault injection)")]
    public static partial void StatementFailedByOutage(ILogger logger, long sessionId, string host);
}
