using System.Diagnostics.Metrics;
using System.IO;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// The routing of a data source over several regional endpoints: each endpoint is a single-endpoint
/// <see cref="DsqlDataSource"/> of its own (pool, tokens, connect-rate bucket). Opens go to the active endpoint: the
/// preferred one while it is healthy, else the first healthy peer. An open that fails for a Region reason is tried on
/// the next endpoint at once; <see cref="DsqlFailoverOptions.FailureThreshold"/> such failures make an endpoint
/// unhealthy (its idle connections are closed), and probes bring it back after
/// <see cref="DsqlFailoverOptions.FailbackDelay"/>.
/// </summary>
internal sealed class EndpointRouter : IAsyncDisposable
{
    private static readonly Counter<long> RouteChanges = DsqlTelemetry.Meter.CreateCounter<long>("dsql.endpoint.route.changes", "{change}",
        "Times a data source over several endpoints moved its opens to another endpoint, tagged with the endpoint and Region moved to.");

    private static readonly Counter<long> Failovers = DsqlTelemetry.Meter.CreateCounter<long>("dsql.endpoint.failovers", "{open}",
        "Opens and transaction attempts that failed on one endpoint for a Region reason and were tried on the next, tagged with the endpoint that failed.");

    /// <summary>One endpoint and its health. Health fields are guarded by the router's lock.</summary>
    internal sealed class Member(DsqlDataSource source, int index, DateTimeOffset since)
    {
        public DsqlDataSource Source { get; } = source;
        public int Index { get; } = index;
        public bool Healthy = true;
        public readonly Queue<long> Failures = new();
        public long LastFailureTicks;
        public int ProbeSuccesses;
        public DateTimeOffset Since = since;
        public string? LastFailure;
        public KeyValuePair<string, object?>[] Tags { get; } =
        [
            new(DsqlTelemetry.EndpointTag, source.Endpoint),
            new(DsqlTelemetry.RegionTag, source.Region),
        ];
    }

    private readonly Member[] _members;
    private readonly int _preferred;
    private readonly DsqlFailoverOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Member _active;
    private Task? _prober;

    public EndpointRouter(IReadOnlyList<DsqlDataSource> endpoints, int preferred, DsqlFailoverOptions options, ILogger logger, TimeProvider time)
    {
        var now = time.GetUtcNow();
        _members = endpoints.Select((source, i) => new Member(source, i, now)).ToArray();
        _preferred = preferred;
        _options = options;
        _logger = logger;
        _time = time;
        _active = _members[preferred];
        EndpointHealthGauge.Add(this);
    }

    public IReadOnlyList<Member> Members => _members;

    public DsqlDataSource Preferred => _members[_preferred].Source;

    /// <summary>The endpoint opens go to now.</summary>
    public DsqlDataSource Active => Volatile.Read(ref _active).Source;

    /// <summary>
    /// The endpoint a new connection should belong to: the active one, or when that is <paramref name="avoid"/>, the
    /// first other endpoint in failover order (healthy first, then the preferred, then as added).
    /// </summary>
    public DsqlDataSource Pick(DsqlDataSource? avoid)
    {
        var active = Volatile.Read(ref _active);
        if (avoid is null || !ReferenceEquals(active.Source, avoid)) return active.Source;
        lock (_gate) return FailoverOrder(active).FirstOrDefault()?.Source ?? active.Source;
    }

    private IEnumerable<Member> FailoverOrder(Member failed)
        => _members.Where(m => !ReferenceEquals(m, failed)).OrderBy(m => m.Healthy ? 0 : 1).ThenBy(m => m.Index == _preferred ? 0 : 1).ThenBy(m => m.Index);

    /// <summary>The member of an endpoint's data source (null when it is not one of this router's).</summary>
    public Member? MemberOf(DsqlDataSource? source)
    {
        foreach (var member in _members) if (ReferenceEquals(member.Source, source)) return member;
        return null;
    }

    public IReadOnlyList<DsqlEndpointStatus> Status()
    {
        lock (_gate)
            return _members.Select(m => new DsqlEndpointStatus(m.Source.Endpoint, m.Source.Region, m.Index == _preferred, ReferenceEquals(m, _active), m.Healthy, m.Since, m.LastFailure)).ToArray();
    }

    /// <summary>
    /// Opens a connection: on the active endpoint (or the next one when <paramref name="avoid"/> is it), then on each
    /// other endpoint, healthy ones first, as long as the failures are Region failures. Returns the endpoint used.
    /// </summary>
    public async ValueTask<(NpgsqlConnection Connection, DsqlDataSource Endpoint)> OpenAsync(bool async, DsqlDataSource? avoid, CancellationToken cancellationToken)
    {
        var first = Volatile.Read(ref _active);
        if (avoid is null || !ReferenceEquals(first.Source, avoid))
        {
            // The path of nearly every open: the active endpoint answers.
            try
            {
                return (await OpenOnAsync(first, async, cancellationToken).ConfigureAwait(false), first.Source);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && RegionFailure(ex) is { } reason)
            {
                ReportFailure(first, reason);
                Failovers.Add(1, first.Tags);
                return await OpenOnOthersAsync(first, async, ex, cancellationToken).ConfigureAwait(false);
            }
        }
        return await OpenOnOthersAsync(MemberOf(avoid)!, async, null, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<(NpgsqlConnection, DsqlDataSource)> OpenOnOthersAsync(Member failed, bool async, Exception? failure, CancellationToken cancellationToken)
    {
        Member[] order;
        lock (_gate) order = FailoverOrder(failed).ToArray();
        foreach (var member in order)
        {
            try
            {
                return (await OpenOnAsync(member, async, cancellationToken).ConfigureAwait(false), member.Source);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && RegionFailure(ex) is { } reason)
            {
                ReportFailure(member, reason);
                Failovers.Add(1, member.Tags);
                failure = ex;
            }
        }
        if (failure is null) return (await OpenOnAsync(failed, async, cancellationToken).ConfigureAwait(false), failed.Source); // the one asked to avoid is all there is
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        throw failure;
    }

    /// <summary>One endpoint's open, given at most <see cref="DsqlFailoverOptions.EndpointOpenTimeout"/>.</summary>
    private async ValueTask<NpgsqlConnection> OpenOnAsync(Member member, bool async, CancellationToken cancellationToken)
    {
        using var slice = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        slice.CancelAfter(_options.EndpointOpenTimeout);
        try
        {
            return await member.Source.OpenSingle(async, slice.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (slice.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new EndpointOpenTimeoutException(member.Source.Endpoint, _options.EndpointOpenTimeout, ex);
        }
    }

    /// <summary>An open that ran out of <see cref="DsqlFailoverOptions.EndpointOpenTimeout"/> on one endpoint.</summary>
    internal sealed class EndpointOpenTimeoutException(string endpoint, TimeSpan timeout, Exception inner)
        : TimeoutException($"Opening a connection to {endpoint} took longer than Failover.EndpointOpenTimeout ({timeout.TotalSeconds:0.###} s).", inner);

    /// <summary>
    /// Why <paramref name="exception"/> says the endpoint's Region is impaired (a SQLSTATE or the kind of failure), or
    /// null when it says something else (authentication, TLS, a bad statement, a conflict).
    /// </summary>
    public static string? RegionFailure(Exception exception)
    {
        int depth = 0;
        for (var current = exception; current is not null && depth < 16; current = current.InnerException, depth++)
        {
            switch (current)
            {
                case DsqlAuthenticationException or DsqlTlsException or DsqlCredentialsException or DsqlConfigurationException:
                    return null;
                case EndpointOpenTimeoutException or DsqlConnectTimeoutException:
                    return "timeout";
                case PostgresException postgres:
                    return DsqlErrors.IsServerUnavailable(postgres) ? "XX000"
                        : postgres.SqlState is "57P01" or "57P02" or "57P03" or "53300" or "53400" || postgres.SqlState.StartsWith("08", StringComparison.Ordinal) ? postgres.SqlState
                        : null;
                case SocketException or IOException or EndOfStreamException:
                    return "network";
            }
        }
        return exception is NpgsqlException { IsTransient: true } ? "network" : null;
    }

    /// <summary>Counts a Region failure of an endpoint; enough of them in the window make it unhealthy.</summary>
    public void ReportFailure(DsqlDataSource endpoint, string reason)
    {
        if (MemberOf(endpoint) is not { } member) return;
        ReportFailure(member, reason);
        Failovers.Add(1, member.Tags); // the transaction attempt that failed is run again on another endpoint
    }

    private void ReportFailure(Member member, string reason)
    {
        bool becameUnhealthy = false;
        long now = _time.GetUtcNow().UtcTicks;
        lock (_gate)
        {
            member.LastFailure = reason;
            member.LastFailureTicks = now;
            member.ProbeSuccesses = 0;
            member.Failures.Enqueue(now);
            while (member.Failures.Count > 0 && now - member.Failures.Peek() > _options.FailureWindow.Ticks) member.Failures.Dequeue();
            if (member.Healthy && member.Failures.Count >= _options.FailureThreshold)
            {
                member.Healthy = false;
                member.Since = _time.GetUtcNow();
                becameUnhealthy = true;
                Reroute($"{member.Source.Endpoint} is unhealthy ({member.Failures.Count} Region failures in {_options.FailureWindow.TotalSeconds:0.#} s, the last: {reason})");
                _prober ??= Task.Run(ProbeLoopAsync);
            }
        }
        if (becameUnhealthy)
        {
            Log.EndpointUnhealthy(_logger, member.Source.Endpoint, member.Source.Region, reason);
            // Idle connections to an impaired Region would fail the next caller who rents them.
            member.Source.NpgsqlDataSource.Clear();
        }
    }

    /// <summary>Points opens at the preferred endpoint if healthy, else at the first healthy one (else still the preferred). Call under the lock.</summary>
    private void Reroute(string why)
    {
        var next = _members[_preferred].Healthy ? _members[_preferred] : _members.FirstOrDefault(m => m.Healthy) ?? _members[_preferred];
        var before = _active;
        if (ReferenceEquals(next, before)) return;
        Volatile.Write(ref _active, next);
        RouteChanges.Add(1, next.Tags);
        Log.RouteChanged(_logger, before.Source.Endpoint, next.Source.Endpoint, next.Source.Region, why);
    }

    /// <summary>Probes every unhealthy endpoint each <see cref="DsqlFailoverOptions.ProbeInterval"/> until all are healthy.</summary>
    private async Task ProbeLoopAsync()
    {
        var token = _stop.Token;
        try
        {
            while (true)
            {
                await Task.Delay(_options.ProbeInterval, _time, token).ConfigureAwait(false);
                Member[] unhealthy;
                lock (_gate)
                {
                    unhealthy = _members.Where(m => !m.Healthy).ToArray();
                    if (unhealthy.Length == 0)
                    {
                        _prober = null;
                        return;
                    }
                }
                foreach (var member in unhealthy) await ProbeAsync(member, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // disposed
        }
    }

    private async Task ProbeAsync(Member member, CancellationToken token)
    {
        string? failure = null;
        try
        {
            await using var connection = await OpenOnAsync(member, async: true, token).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Disposed meanwhile: whatever the probe met (a cancellation, or the server's answer that raced it) no
            // longer matters, and must not surface from the data source's dispose.
            if (token.IsCancellationRequested) return;
            failure = RegionFailure(ex) ?? ex.GetType().Name;
        }
        // The probe's connection must not be rented later if the endpoint is still unhealthy: the next probe connects anew.
        member.Source.NpgsqlDataSource.Clear();
        bool recovered = false;
        lock (_gate)
        {
            if (failure is not null)
            {
                member.ProbeSuccesses = 0;
                member.LastFailure = failure;
                member.LastFailureTicks = _time.GetUtcNow().UtcTicks;
                return;
            }
            member.ProbeSuccesses++;
            if (!member.Healthy && member.ProbeSuccesses >= _options.RecoveryProbes
                && _time.GetUtcNow().UtcTicks - member.LastFailureTicks >= _options.FailbackDelay.Ticks)
            {
                member.Healthy = true;
                member.Failures.Clear();
                member.Since = _time.GetUtcNow();
                recovered = true;
                Reroute($"{member.Source.Endpoint} recovered ({member.ProbeSuccesses} probes in a row succeeded)");
            }
        }
        if (recovered) Log.EndpointRecovered(_logger, member.Source.Endpoint, member.Source.Region);
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        // A data source may be disposed twice (explicitly, then by an `await using`): the second time is a no-op.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        EndpointHealthGauge.Remove(this);
        await _stop.CancelAsync().ConfigureAwait(false);
        Task? prober;
        lock (_gate) prober = _prober;
        if (prober is not null) await prober.ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>
    /// The synchronous dispose: stops the probes without waiting for one in flight (it ends at its next await, on the
    /// cancelled token; its connection goes with the endpoint's data source, disposed next).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        EndpointHealthGauge.Remove(this);
        _stop.Cancel();
    }
}
