using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Dsql.Connector;

/// <summary>
/// The connector's metrics and traces: one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named
/// <c>Dsql.Connector</c>, and the names of their tags. Tags carry the endpoint host, the Region, the user name,
/// reason and outcome strings and attempt numbers; never a token, a signature or a secret.
/// Instruments cost one <see cref="Instrument.Enabled"/> check when nothing listens (see docs/observability.md).
/// </summary>
internal static class DsqlTelemetry
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "Dsql.Connector";

    /// <summary>The name of the activity around one <see cref="DsqlDataSource.ExecuteInTransactionAsync{T}"/> call.</summary>
    public const string TransactionActivityName = "dsql.transaction";

    // Tag names: where the work went; why and how it ended; the attempts of a transaction; semantic conventions.
    public const string EndpointTag = "dsql.endpoint", RegionTag = "dsql.region", UserTag = "dsql.user";
    public const string ReasonTag = "reason", OutcomeTag = "outcome";
    public const string AttemptTag = "dsql.transaction.attempt", AttemptsTag = "dsql.transaction.attempts", RetryDelayTag = "dsql.transaction.retry.delay";
    public const string DbSystemTag = "db.system.name", ErrorTypeTag = "error.type";

    private static readonly string Version =
        typeof(DsqlTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    public static readonly Meter Meter = new(Name, Version);

    public static readonly ActivitySource ActivitySource = new(Name, Version);

    // Bucket boundaries advised for the histograms in seconds (1 ms to 5 min), where the runtime has the advice API
    // (.NET 9 and later). Declared before the instruments: static fields are initialised in order.
    internal static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    // ---------------------------------------------------------------- tokens
    public static readonly Counter<long> TokensGenerated = Counter("dsql.token.generated", "{token}", "DSQL authentication tokens signed (cache misses and background refreshes).");
    public static readonly Counter<long> TokenCacheHits = Counter("dsql.token.cache.hits", "{lookup}", "Token lookups served from the cache.");
    public static readonly Counter<long> TokenCacheMisses = Counter("dsql.token.cache.misses", "{lookup}", "Token lookups that found no usable token and waited for one to be signed.");
    public static readonly Counter<long> TokenRefreshFailures = Counter("dsql.token.refresh.failures", "{failure}", "Background token refreshes that failed (the current token stays in use while valid).");
    public static readonly Histogram<double> TokenSigningDuration = Seconds("dsql.token.signing.duration", "Time to sign one token, credential resolution included.");

    // ---------------------------------------------------------------- connects
    public static readonly Counter<long> ConnectAttempts = Counter("dsql.connect.attempts", "{attempt}", "Physical connects that asked the connector for a token (one per physical connection).");
    public static readonly Counter<long> ConnectFailures = Counter("dsql.connect.failures", "{failure}", "Failed opens seen by the connector, by reason.");
    public static readonly Histogram<double> RateLimitWaitDuration = Seconds("dsql.connect.rate_limit.wait.duration", "Time a physical connect waited for a permit of the endpoint's connection-rate bucket (only when it waited).");

    // ---------------------------------------------------------------- transactions
    public static readonly Counter<long> TransactionConflicts = Counter("dsql.transaction.conflicts", "{conflict}", "Optimistic-concurrency conflicts (SQLSTATE 40001) seen by transaction attempts.");
    public static readonly Counter<long> TransactionConnectionLosses = Counter("dsql.transaction.connection_losses", "{loss}", "Transaction attempts whose connection was lost before COMMIT was sent (nothing committed; run again).");
    public static readonly Counter<long> TransactionRetries = Counter("dsql.transaction.retries", "{retry}", "Transaction attempts started again, by reason: a conflict, or a connection lost before COMMIT.");
    public static readonly Counter<long> TransactionRetriesExhausted = Counter("dsql.transaction.retries.exhausted", "{transaction}", "Transactions given up when the retries ran out, by the reason of the last attempt's failure.");
    public static readonly Counter<long> TransactionGuardTrips = Counter("dsql.transaction.guard.trips", "{transaction}", "Transaction attempts cancelled and rolled back by the transaction guard.");
    public static readonly Histogram<double> TransactionDuration = Seconds("dsql.transaction.duration", "Duration of ExecuteInTransactionAsync calls, every attempt and backoff included, by outcome.");

    private static Counter<long> Counter(string name, string unit, string description) => Meter.CreateCounter<long>(name, unit, description);

    private static Histogram<double> Seconds(string name, string description)
#if NET9_0_OR_GREATER
        => Meter.CreateHistogram(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
#else
        => Meter.CreateHistogram<double>(name, "s", description);
#endif

    // ---------------------------------------------------------------- reasons and outcomes

    /// <summary>Values of the <c>reason</c> tag of <c>dsql.connect.failures</c>.</summary>
    public static class Reasons
    {
        public const string RateLimit = "rate_limit", TooManyConnections = "too_many_connections", Auth = "auth", Tls = "tls", Network = "network", Timeout = "timeout", Other = "other";
    }

    /// <summary>Values of the <c>reason</c> tag of <c>dsql.transaction.retries</c> and <c>dsql.transaction.retries.exhausted</c>.</summary>
    public static class RetryReasons
    {
        public const string Conflict = "conflict", ConnectionLost = "connection_lost", ServerUnavailable = "server_unavailable";
    }

    /// <summary>Values of the <c>outcome</c> tag of <c>dsql.transaction.duration</c> and of the attempt events.</summary>
    public static class Outcomes
    {
        public const string Committed = "committed", Conflict = "conflict", ConflictExhausted = "conflict_exhausted", Timeout = "timeout", AmbiguousCommit = "ambiguous_commit", ConnectionLost = "connection_lost", ServerUnavailable = "server_unavailable", Error = "error", Cancelled = "cancelled";
    }
}
