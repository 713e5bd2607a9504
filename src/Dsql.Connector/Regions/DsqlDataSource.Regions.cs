using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Dsql.Connector;

public sealed partial class DsqlDataSource
{
    /// <summary>The endpoint each connection created by <see cref="CreateConnection()"/> belongs to (over several endpoints).</summary>
    private readonly ConditionalWeakTable<NpgsqlConnection, DsqlDataSource>? _owners;

    /// <summary>
    /// A data source over several regional endpoints of one multi-Region cluster, each a single-endpoint data source of
    /// its own (pool, tokens signed for its host and Region, connect-rate bucket); built by
    /// <see cref="DsqlDataSourceBuilder.Build"/> when endpoints were added.
    /// </summary>
    internal DsqlDataSource(IReadOnlyList<DsqlDataSource> endpoints, int preferred, DsqlFailoverOptions failover, ILoggerFactory loggerFactory, TimeProvider time)
    {
        var main = endpoints[preferred];
        _settings = main._settings;
        TokenProvider = main.TokenProvider;
        _pacer = main._pacer;
        _logger = loggerFactory.CreateLogger("Dsql.Connector");
        _time = time;
        _retry = main._retry;
        _deadlines = main._deadlines;
        _inner = main._inner;
        _owners = new ConditionalWeakTable<NpgsqlConnection, DsqlDataSource>();
        _router = new EndpointRouter(endpoints, preferred, failover, _logger, time);
        Log.MultiRegionBuilt(_logger, endpoints.Count, string.Join(", ", endpoints.Select(e => $"{e.Endpoint} ({e.Region})")), main.Endpoint, main.Region);
    }

    /// <summary>
    /// The regional endpoints of this data source and their health: one entry for a single endpoint (always healthy and
    /// active), one per endpoint when several were added (<see cref="DsqlDataSourceBuilder.AddEndpoint"/>).
    /// </summary>
    public IReadOnlyList<DsqlEndpointStatus> Endpoints
        => _router?.Status() ?? [new DsqlEndpointStatus(Endpoint, Region, true, true, true, default, null)];

    /// <summary>The endpoint tokens are signed for when it is healthy: the preferred one (the only one for a single endpoint).</summary>
    public string PreferredEndpoint => _router?.Preferred.Endpoint ?? _settings.Endpoint;

    private NpgsqlConnection CreateRoutedConnection() => CreateConnection(avoid: null);

    /// <summary>
    /// A new (closed) connection on the endpoint opens go to now, or, over several endpoints, on another one than
    /// <paramref name="avoid"/> when that is the active one (see <see cref="EndpointRouter.Pick"/>).
    /// </summary>
    internal NpgsqlConnection CreateConnection(DsqlDataSource? avoid)
    {
        if (_router is null) return _inner.CreateConnection();
        var endpoint = _router.Pick(avoid);
        var connection = endpoint._inner.CreateConnection();
        _owners!.AddOrUpdate(connection, endpoint);
        return connection;
    }

    /// <summary>The endpoint a connection made by <see cref="CreateConnection()"/> belongs to; null over one endpoint.</summary>
    internal DsqlDataSource? EndpointOf(NpgsqlConnection connection)
        => _owners is not null && _owners.TryGetValue(connection, out var owner) ? owner : null;

    /// <summary>
    /// Whether a closed connection made by <see cref="CreateConnection()"/> belongs to an endpoint opens no longer go
    /// to (routing changed since it was made, or it is <paramref name="avoid"/>, where the work before it failed), so
    /// that its owner should make a new one with <see cref="CreateConnection(DsqlDataSource?)"/> before opening.
    /// </summary>
    internal bool ShouldReplace(NpgsqlConnection connection, DsqlDataSource? avoid)
        => _router is not null && EndpointOf(connection) is { } owner && !ReferenceEquals(owner, _router.Pick(avoid));

    private async ValueTask<NpgsqlConnection> OpenRouted(bool async, CancellationToken cancellationToken)
        => (await _router!.OpenAsync(async, null, cancellationToken).ConfigureAwait(false)).Connection;

    /// <summary>
    /// A connection made by <see cref="CreateConnection()"/> opens on the endpoint it was made for (it belongs to that
    /// endpoint's pool). A Region failure counts against that endpoint's health; the owner of the connection may then
    /// make a new one elsewhere (<see cref="ShouldReplace"/>), as EF Core's connection does.
    /// </summary>
    private ValueTask<NpgsqlConnection> OpenExistingRouted(NpgsqlConnection connection, bool async, CancellationToken cancellationToken)
    {
        var endpoint = EndpointOf(connection) ?? _router!.Active;
        var open = endpoint.OpenExisting(connection, async, cancellationToken);
        return open.IsCompletedSuccessfully ? open : ReportingRegionFailureAsync(open, endpoint, cancellationToken);
    }

    private async ValueTask<NpgsqlConnection> ReportingRegionFailureAsync(ValueTask<NpgsqlConnection> open, DsqlDataSource endpoint, CancellationToken cancellationToken)
    {
        try
        {
            return await open.ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            if (EndpointRouter.RegionFailure(ex) is { } reason) _router!.ReportFailure(endpoint, reason);
            throw;
        }
    }

    /// <summary>
    /// An open for a transaction attempt, with the endpoint it went to: over several endpoints, away from
    /// <paramref name="avoid"/> (the endpoint the attempt before failed on) when another can serve.
    /// </summary>
    internal async ValueTask<(NpgsqlConnection Connection, DsqlDataSource? Endpoint)> OpenForAttemptAsync(DsqlDataSource? avoid, CancellationToken cancellationToken)
    {
        if (_router is null) return (await OpenOnEndpoint(async: true, cancellationToken, null).ConfigureAwait(false), null);
        return await _router.OpenAsync(async: true, avoid, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="exception"/> says an endpoint's Region is impaired (see <see cref="EndpointRouter.RegionFailure"/>).</summary>
    internal static bool IsRegionFailure(Exception exception) => EndpointRouter.RegionFailure(exception) is not null;

    /// <summary>A transaction attempt on <paramref name="endpoint"/> failed for a Region reason; null when it did not (or there is one endpoint).</summary>
    internal string? ReportAttemptFailure(DsqlDataSource? endpoint, Exception exception)
    {
        if (_router is null || endpoint is null || EndpointRouter.RegionFailure(exception) is not { } reason) return null;
        _router.ReportFailure(endpoint, reason);
        return reason;
    }

    /// <summary>Whether there are several endpoints to fail over between.</summary>
    internal bool IsMultiRegion => _router is not null;
}
