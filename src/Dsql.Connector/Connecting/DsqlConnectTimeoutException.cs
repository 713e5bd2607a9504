using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// An open of a <see cref="DsqlDataSource"/> did not finish within its <c>Timeout</c> (the whole open: waiting for a
/// pooled connection or a connect permit, every attempt and the delays between them). The message names the
/// endpoint, the phase that was running out of time and the budget; the inner exception is a
/// <see cref="TimeoutException"/> whose own inner exception, when there is one, is the failure the last attempt saw.
/// </summary>
public sealed class DsqlConnectTimeoutException : NpgsqlException
{
    internal DsqlConnectTimeoutException(string endpoint, string address, DsqlConnectPhase phase, TimeSpan budget, int attempts, Exception? lastFailure)
        : base(BuildMessage(endpoint, address, phase, budget, attempts, lastFailure),
               new TimeoutException($"The open ran out of its Timeout of {budget.TotalSeconds:0.###} s during {PhaseText(phase)}.", lastFailure))
    {
        Endpoint = endpoint;
        Phase = phase;
        Budget = budget;
    }

    /// <summary>The DSQL endpoint being opened.</summary>
    public string Endpoint { get; }

    /// <summary>Where the open was when the budget ran out.</summary>
    public DsqlConnectPhase Phase { get; }

    /// <summary>The budget: the <c>Timeout</c> setting.</summary>
    public TimeSpan Budget { get; }

    /// <summary>What <paramref name="phase"/> means, in words (used in messages and health check descriptions).</summary>
    internal static string PhaseText(DsqlConnectPhase phase) => phase switch
    {
        DsqlConnectPhase.Connecting => "the TCP connect or the wait for a free pooled connection",
        DsqlConnectPhase.TlsHandshake => "the TLS handshake",
        DsqlConnectPhase.Token => "getting the IAM token (resolving AWS credentials)",
        DsqlConnectPhase.ConnectPermit => "the wait for a connect permit",
        DsqlConnectPhase.Authentication => "authentication and session start-up",
        DsqlConnectPhase.RetryDelay => "the delay before another connect attempt",
        _ => phase.ToString(),
    };

    private static string BuildMessage(string endpoint, string address, DsqlConnectPhase phase, TimeSpan budget, int attempts, Exception? lastFailure)
    {
        string seconds = budget.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        string what = phase switch
        {
            DsqlConnectPhase.Connecting => $"the TCP connection to {address} did not complete, or no pooled connection came free (Maximum Pool Size reached)",
            DsqlConnectPhase.TlsHandshake => $"{address} accepted the TCP connection but did not complete the TLS handshake, or did not ask for the token after it (a stalled server, proxy or tunnel, or a firewall that drops packets)",
            DsqlConnectPhase.Token => "the AWS credentials needed to sign the IAM token could not be resolved in time",
            DsqlConnectPhase.ConnectPermit => "more connects are queued for the connection-rate bucket than it releases in that time; open fewer connections at once or raise Timeout",
            DsqlConnectPhase.Authentication => "the IAM token was sent and the server did not finish authentication and session start-up",
            DsqlConnectPhase.RetryDelay => "every attempt so far failed and the budget ran out before the next one",
            _ => phase.ToString(),
        };
        string last = lastFailure is null || lastFailure is OperationCanceledException || lastFailure.InnerException is OperationCanceledException
            ? "" : $" Last failure: {Describe(lastFailure)}.";
        return $"Could not open a connection to {endpoint} within the Timeout of {seconds} s ({attempts} attempt{(attempts == 1 ? "" : "s")}, connect retries and pacing included): " +
               $"it ran out during {PhaseText(phase)}: {what}.{last}";
    }

    private static string Describe(Exception exception)
        => exception is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : exception.GetBaseException().Message;
}
