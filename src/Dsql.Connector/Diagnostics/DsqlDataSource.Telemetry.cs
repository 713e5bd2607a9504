using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Authentication;
using Npgsql;

namespace Dsql.Connector;

public sealed partial class DsqlDataSource
{
    // The recording side of DsqlTelemetry for connects and transactions. Every method returns at once when nothing
    // listens to its instrument; none is called on the pooled-rent fast path of OpenConnectionAsync.

    // ---------------------------------------------------------------- connects

    /// <summary>One physical connect asked for a token (called from the password callback).</summary>
    private void RecordConnectAttempt(string user)
    {
        if (!DsqlTelemetry.ConnectAttempts.Enabled) return;
        DsqlTelemetry.ConnectAttempts.Add(1,
            new KeyValuePair<string, object?>(DsqlTelemetry.EndpointTag, Endpoint),
            new KeyValuePair<string, object?>(DsqlTelemetry.RegionTag, Region),
            new KeyValuePair<string, object?>(DsqlTelemetry.UserTag, user));
    }

    /// <summary>
    /// An open failed: DSQL's throttling (53400, 53300) feeds the health check's Degraded signal, and the failure is
    /// counted by reason. A cancellation by the caller is not a failure and is not counted.
    /// </summary>
    private void RecordConnectFailure(Exception exception, CancellationToken callerToken)
    {
        if (exception is PostgresException { SqlState: "53400" or "53300" }) MarkThrottled();
        if (!DsqlTelemetry.ConnectFailures.Enabled) return;
        if (callerToken.IsCancellationRequested && exception is OperationCanceledException) return;
        var tags = new TagList
        {
            { DsqlTelemetry.EndpointTag, Endpoint },
            { DsqlTelemetry.RegionTag, Region },
            { DsqlTelemetry.UserTag, _settings.Username },
            { DsqlTelemetry.ReasonTag, ConnectFailureReason(exception) },
        };
        DsqlTelemetry.ConnectFailures.Add(1, tags);
    }

    /// <summary>A physical connect waited for a permit of the endpoint's rate bucket.</summary>
    private void RecordRateLimitWait(TimeSpan waited)
    {
        if (!DsqlTelemetry.RateLimitWaitDuration.Enabled) return;
        DsqlTelemetry.RateLimitWaitDuration.Record(waited.TotalSeconds,
            new KeyValuePair<string, object?>(DsqlTelemetry.EndpointTag, Endpoint),
            new KeyValuePair<string, object?>(DsqlTelemetry.RegionTag, Region));
    }

    /// <summary>The <c>reason</c> tag of a failed open: the first telling exception in its chain.</summary>
    internal static string ConnectFailureReason(Exception exception)
    {
        // Reached only when the caller did not cancel: a cancellation is the connector's deadline.
        if (exception is OperationCanceledException) return DsqlTelemetry.Reasons.Timeout;
        if (exception is DsqlAuthenticationException) return DsqlTelemetry.Reasons.Auth;
        if (exception is DsqlConnectTimeoutException) return DsqlTelemetry.Reasons.Timeout;
        // Exception chains are short; the bound only guards against a chain that loops.
        int depth = 0;
        for (var current = exception; current is not null && depth < 16; current = current.InnerException, depth++)
        {
            switch (current)
            {
                case PostgresException { SqlState: "53400" }:
                    return DsqlTelemetry.Reasons.RateLimit;
                case PostgresException { SqlState: "53300" }:
                    return DsqlTelemetry.Reasons.TooManyConnections;
                case PostgresException { SqlState: "28000" or "28P01" }:
                    return DsqlTelemetry.Reasons.Auth;
                case PostgresException:
                    return DsqlTelemetry.Reasons.Other;
                case AuthenticationException:
                    return DsqlTelemetry.Reasons.Tls;
                case TimeoutException:
                    return DsqlTelemetry.Reasons.Timeout;
                case SocketException or IOException:
                    // An I/O error may still wrap a TLS failure further down.
                    if (FindInChain<AuthenticationException>(current.InnerException) is not null) return DsqlTelemetry.Reasons.Tls;
                    return DsqlTelemetry.Reasons.Network;
            }
        }
        return DsqlTelemetry.Reasons.Other;
    }

    private static TException? FindInChain<TException>(Exception? exception) where TException : Exception
    {
        for (int depth = 0; exception is not null && depth < 16; exception = exception.InnerException, depth++)
            if (exception is TException found) return found;
        return null;
    }

    // ---------------------------------------------------------------- transactions

    /// <summary>The activity around one transaction call, or <see langword="null"/> when no listener samples it (no allocation then).</summary>
    private Activity? StartTransactionActivity()
    {
        var activity = DsqlTelemetry.ActivitySource.StartActivity(DsqlTelemetry.TransactionActivityName, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(DsqlTelemetry.DbSystemTag, "postgresql");
            activity.SetTag(DsqlTelemetry.EndpointTag, Endpoint);
            activity.SetTag(DsqlTelemetry.RegionTag, Region);
        }
        return activity;
    }

    /// <summary>
    /// The end of one transaction call: its duration by outcome, and its activity's attempts and status.
    /// <c>connectionLost</c>: the call gave up because its last attempt lost its connection before COMMIT (outcome <c>connection_lost</c>).
    /// </summary>
    private void RecordTransactionEnd(long startedTimestamp, Activity? activity, int attempts, Exception? failure, bool connectionLost, CancellationToken callerToken)
    {
        string outcome = failure is null ? DsqlTelemetry.Outcomes.Committed
            : connectionLost && !callerToken.IsCancellationRequested ? DsqlTelemetry.Outcomes.ConnectionLost
            : TransactionOutcome(failure, callerToken);
        if (DsqlTelemetry.TransactionDuration.Enabled)
        {
            DsqlTelemetry.TransactionDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds,
                new KeyValuePair<string, object?>(DsqlTelemetry.EndpointTag, Endpoint),
                new KeyValuePair<string, object?>(DsqlTelemetry.OutcomeTag, outcome));
        }
        if (activity is not { IsAllDataRequested: true }) return;
        activity.SetTag(DsqlTelemetry.AttemptsTag, attempts);
        activity.SetTag(DsqlTelemetry.OutcomeTag, outcome);
        if (failure is not null)
        {
            // The exception's type, never its message: a server message may quote the data.
            activity.SetTag(DsqlTelemetry.ErrorTypeTag, failure.GetType().FullName);
            activity.SetStatus(ActivityStatusCode.Error, outcome);
        }
    }

    private static string TransactionOutcome(Exception failure, CancellationToken callerToken) => failure switch
    {
        _ when callerToken.IsCancellationRequested => DsqlTelemetry.Outcomes.Cancelled,
        DsqlTransactionTimeoutException => DsqlTelemetry.Outcomes.Timeout,
        DsqlAmbiguousCommitException => DsqlTelemetry.Outcomes.AmbiguousCommit,
        DsqlTransactionConflictException => DsqlTelemetry.Outcomes.ConflictExhausted,
        _ when DsqlErrors.IsConflict(failure) => DsqlTelemetry.Outcomes.ConflictExhausted,
        _ => DsqlTelemetry.Outcomes.Error,
    };

    /// <summary>One attempt ended: an "attempt" event on the transaction's activity, with the endpoint that served it (when a connection was opened).</summary>
    private static void RecordAttemptEnd(Activity? activity, int attempt, string outcome, string? endpoint)
    {
        if (activity is not { IsAllDataRequested: true }) return;
        var tags = new ActivityTagsCollection
        {
            { DsqlTelemetry.AttemptTag, attempt },
            { DsqlTelemetry.OutcomeTag, outcome },
        };
        if (endpoint is not null) tags.Add(DsqlTelemetry.EndpointTag, endpoint);
        activity.AddEvent(new ActivityEvent("attempt", tags: tags));
    }

    /// <summary>A conflict, seen by an attempt.</summary>
    internal void RecordConflict() => AddEndpointCount(DsqlTelemetry.TransactionConflicts);

    /// <summary>The transaction guard ended an attempt.</summary>
    private void RecordGuardTrip() => AddEndpointCount(DsqlTelemetry.TransactionGuardTrips);

    /// <summary>An attempt lost its connection before COMMIT was sent (it will run again if the budget allows).</summary>
    internal void RecordConnectionLoss() => AddEndpointCount(DsqlTelemetry.TransactionConnectionLosses);

    /// <summary>The retries ran out: the transaction was given up; <paramref name="reason"/> is why its last attempt failed.</summary>
    internal void RecordRetriesExhausted(string reason) => AddEndpointCount(DsqlTelemetry.TransactionRetriesExhausted, reason);

    /// <summary>
    /// A transaction is about to run again after <paramref name="delay"/>, because of <paramref name="reason"/> (a
    /// conflict, or a connection lost before COMMIT): the counter, and a "retry" event on the activity.
    /// </summary>
    internal void RecordTransactionRetry(int nextAttempt, TimeSpan delay, string reason)
    {
        AddEndpointCount(DsqlTelemetry.TransactionRetries, reason);
        // The retry callback runs in the caller's flow, where the transaction's activity is the current one.
        if (Activity.Current is not { IsAllDataRequested: true } activity
            || !ReferenceEquals(activity.Source, DsqlTelemetry.ActivitySource)
            || activity.OperationName != DsqlTelemetry.TransactionActivityName)
            return;
        activity.AddEvent(new ActivityEvent("retry", tags: new ActivityTagsCollection
        {
            { DsqlTelemetry.AttemptTag, nextAttempt },
            { DsqlTelemetry.RetryDelayTag, delay.TotalSeconds },
            { DsqlTelemetry.ReasonTag, reason },
        }));
    }

    private void AddEndpointCount(System.Diagnostics.Metrics.Counter<long> counter)
    {
        if (counter.Enabled) counter.Add(1, new KeyValuePair<string, object?>(DsqlTelemetry.EndpointTag, Endpoint));
    }

    private void AddEndpointCount(System.Diagnostics.Metrics.Counter<long> counter, string reason)
    {
        if (counter.Enabled)
            counter.Add(1, new KeyValuePair<string, object?>(DsqlTelemetry.EndpointTag, Endpoint), new KeyValuePair<string, object?>(DsqlTelemetry.ReasonTag, reason));
    }
}
