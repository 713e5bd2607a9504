using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dsql.Connector;

/// <summary>
/// Caches DSQL authentication tokens per (host, Region, user) and refreshes them ahead of expiry in the
/// background, so that opening a physical connection normally finds a token ready: a cache hit takes no lock
/// and allocates nothing. Plugged into Npgsql's password callback by <see cref="DsqlDataSource"/>.
/// </summary>
/// <remarks>
/// A token is refreshed once two thirds of its lifetime have passed and served until <see cref="SafetyMargin"/>
/// before it expires, so a connect never carries a token about to lapse. Entries unused for two lifetimes are
/// dropped instead of refreshed. Concurrent misses for one key share one signing operation. Internal: users reach it
/// only through <see cref="DsqlDataSource"/>'s password callback (tests and the benchmarks see it through InternalsVisibleTo).
/// </remarks>
internal sealed class DsqlTokenProvider : IDisposable
{
    /// <summary>A token is not handed out when it expires within this margin (or a tenth of its lifetime, if shorter).</summary>
    public static readonly TimeSpan SafetyMargin = TimeSpan.FromSeconds(30);

    private readonly DsqlTokenGenerator _generator;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<TokenKey, Entry> _entries = new();
    private readonly ConcurrentDictionary<TokenKey, Task<DsqlToken>> _signing = new();
    private int _disposed;

    /// <summary>Creates a provider.</summary>
    /// <param name="generator">Signs the tokens.</param>
    /// <param name="tokenLifetime">Lifetime to request for each token; default <see cref="DsqlTokenGenerator.DefaultExpiry"/>.</param>
    /// <param name="timeProvider">Clock and timers; default the system clock.</param>
    /// <param name="logger">Receives refresh events and failures (never a token).</param>
    public DsqlTokenProvider(DsqlTokenGenerator generator, TimeSpan? tokenLifetime = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        _lifetime = tokenLifetime ?? DsqlTokenGenerator.DefaultExpiry;
        if (_lifetime < DsqlTokenGenerator.MinimumExpiry || _lifetime > DsqlTokenGenerator.MaximumExpiry)
            throw new ArgumentOutOfRangeException(nameof(tokenLifetime), _lifetime, $"Token lifetime must be between {DsqlTokenGenerator.MinimumExpiry.TotalSeconds:F0} s and {DsqlTokenGenerator.MaximumExpiry.TotalSeconds:F0} s.");
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>How many distinct (host, Region, user) tokens are cached.</summary>
    public int Count => _entries.Count;

    /// <summary>
    /// A token for the endpoint and user: from the cache when one is usable (no allocation, no wait), otherwise
    /// freshly signed. Credential resolution may use the network on a miss; it never blocks a thread.
    /// </summary>
    public ValueTask<string> GetTokenAsync(string host, string region, string user, CancellationToken cancellationToken = default)
    {
        var key = new TokenKey(host, region, user);
        if (_entries.TryGetValue(key, out var entry))
        {
            long now = _time.GetUtcNow().UtcTicks;
            if (now < entry.UsableUntilTicks)
            {
                entry.LastUsedTicks = now;
                if (now >= entry.RefreshAtTicks || DsqlTelemetry.TokenCacheHits.Enabled) OnHit(key, entry, now);
                return new ValueTask<string>(entry.Token.Value);
            }
        }
        if (DsqlTelemetry.TokenCacheMisses.Enabled) RecordLookup(DsqlTelemetry.TokenCacheMisses, key);
        return new ValueTask<string>(SignSharedAsync(key, cancellationToken));
    }

    /// <summary>The synchronous twin of <see cref="GetTokenAsync"/>: a cache hit, or signing on the calling thread through the credentials' synchronous path.</summary>
    public string GetToken(string host, string region, string user)
    {
        var key = new TokenKey(host, region, user);
        long now = _time.GetUtcNow().UtcTicks;
        if (_entries.TryGetValue(key, out var entry) && now < entry.UsableUntilTicks)
        {
            entry.LastUsedTicks = now;
            if (now >= entry.RefreshAtTicks || DsqlTelemetry.TokenCacheHits.Enabled) OnHit(key, entry, now);
            return entry.Token.Value;
        }
        if (DsqlTelemetry.TokenCacheMisses.Enabled) RecordLookup(DsqlTelemetry.TokenCacheMisses, key);
        long started = _time.GetTimestamp();
        var token = _generator.Generate(host, region, user, _lifetime);
        RecordSigned(key, token, _time.GetElapsedTime(started));
        Store(key, token);
        if (_entries.TryGetValue(key, out var stored)) stored.LastUsedTicks = now;
        return token.Value;
    }

    /// <summary>Forgets the cached token (after the server refused it), so that the next request signs a fresh one.</summary>
    public void Invalidate(string host, string region, string user)
    {
        if (_entries.TryRemove(new TokenKey(host, region, user), out var entry)) entry.Dispose();
    }

    private async Task<string> SignSharedAsync(TokenKey key, CancellationToken cancellationToken)
    {
        var token = await SignShared(key).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_entries.TryGetValue(key, out var entry)) entry.LastUsedTicks = _time.GetUtcNow().UtcTicks;
        return token.Value;
    }

    /// <summary>The signing in progress for the key, or a new one: concurrent callers share one.</summary>
    private Task<DsqlToken> SignShared(TokenKey key)
    {
        while (true)
        {
            if (_signing.TryGetValue(key, out var running)) return running;
            var completion = new TaskCompletionSource<DsqlToken>(TaskCreationOptions.RunContinuationsAsynchronously);
            // Registered before it starts, so that its removal (when done) can never come first.
            if (!_signing.TryAdd(key, completion.Task)) continue;
            _ = SignAndStoreAsync(key, completion);
            return completion.Task;
        }
    }

    private async Task SignAndStoreAsync(TokenKey key, TaskCompletionSource<DsqlToken> completion)
    {
        try
        {
            long started = _time.GetTimestamp();
            var token = await _generator.GenerateAsync(key.Host, key.Region, key.User, _lifetime).ConfigureAwait(false);
            RecordSigned(key, token, _time.GetElapsedTime(started));
            Store(key, token);
            _signing.TryRemove(new KeyValuePair<TokenKey, Task<DsqlToken>>(key, completion.Task));
            completion.SetResult(token);
        }
        catch (Exception ex)
        {
            _signing.TryRemove(new KeyValuePair<TokenKey, Task<DsqlToken>>(key, completion.Task));
            completion.SetException(ex);
        }
    }

    private void RecordSigned(TokenKey key, DsqlToken token, TimeSpan elapsed)
    {
        Log.TokenSigned(_logger, key.Host, key.Region, key.User, token.ExpiresAt, elapsed.TotalMilliseconds);
        DsqlTelemetry.TokensGenerated.Add(1, Tag(DsqlTelemetry.EndpointTag, key.Host), Tag(DsqlTelemetry.RegionTag, key.Region), Tag(DsqlTelemetry.UserTag, key.User));
        DsqlTelemetry.TokenSigningDuration.Record(elapsed.TotalSeconds, Tag(DsqlTelemetry.EndpointTag, key.Host), Tag(DsqlTelemetry.RegionTag, key.Region), Tag(DsqlTelemetry.UserTag, key.User));
    }

    /// <summary>
    /// The rarer work of a cache hit, out of line so that the hit itself stays as small as it was without telemetry:
    /// a refresh once the token is due for one, and the hit counter when something listens.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void OnHit(TokenKey key, Entry entry, long now)
    {
        if (now >= entry.RefreshAtTicks) StartRefresh(key);
        if (DsqlTelemetry.TokenCacheHits.Enabled) RecordLookup(DsqlTelemetry.TokenCacheHits, key);
    }

    /// <summary>
    /// Adds one to a counter tagged with the key (host, Region, user): three tags of strings, no allocation. Never
    /// inlined: inlined, its tag structs would be zeroed on every cache hit, listener or not.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RecordLookup(System.Diagnostics.Metrics.Counter<long> counter, TokenKey key)
        => counter.Add(1, Tag(DsqlTelemetry.EndpointTag, key.Host), Tag(DsqlTelemetry.RegionTag, key.Region), Tag(DsqlTelemetry.UserTag, key.User));

    private static KeyValuePair<string, object?> Tag(string name, string value) => new(name, value);

    private void StartRefresh(TokenKey key)
    {
        if (_signing.ContainsKey(key)) return;
        _ = RefreshAsync(key);
    }

    private async Task RefreshAsync(TokenKey key)
    {
        try
        {
            await SignShared(key).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The current token stays in use until it is no longer usable; the next attempt comes with the next use.
            Log.TokenRefreshFailed(_logger, ex, key.Host, key.Region, key.User);
            if (DsqlTelemetry.TokenRefreshFailures.Enabled) RecordLookup(DsqlTelemetry.TokenRefreshFailures, key);
        }
    }

    private void Store(TokenKey key, DsqlToken token)
    {
        long signed = token.SignedAt.UtcTicks, expires = token.ExpiresAt.UtcTicks;
        long lifetime = Math.Max(expires - signed, 1);
        long margin = Math.Min(SafetyMargin.Ticks, lifetime / 10);
        // A background refresh is not a use: the entry keeps its last use, so an abandoned key is eventually dropped.
        long lastUsed = _entries.TryGetValue(key, out var existing) ? existing.LastUsedTicks : _time.GetUtcNow().UtcTicks;
        var entry = new Entry(token, refreshAtTicks: signed + lifetime * 2 / 3, usableUntilTicks: expires - margin, lastUsedTicks: lastUsed);
        if (Volatile.Read(ref _disposed) != 0) return;
        var previous = _entries.AddOrUpdate(key, entry, (_, _) => entry);
        entry.Timer = _time.CreateTimer(static state => ((Refresh)state!).Run(), new Refresh(this, key, entry), TimeSpan.FromTicks(Math.Max(entry.RefreshAtTicks - _time.GetUtcNow().UtcTicks, 0)), Timeout.InfiniteTimeSpan);
        if (!ReferenceEquals(previous, entry)) previous.Dispose();
    }

    /// <summary>The background refresh of one entry, ahead of its expiry; entries unused for two lifetimes are dropped instead.</summary>
    private sealed record Refresh(DsqlTokenProvider Provider, TokenKey Key, Entry Entry)
    {
        public void Run()
        {
            if (Volatile.Read(ref Provider._disposed) != 0) return;
            if (!Provider._entries.TryGetValue(Key, out var current) || !ReferenceEquals(current, Entry)) return;
            long idle = Provider._time.GetUtcNow().UtcTicks - Entry.LastUsedTicks;
            if (idle > 2 * Provider._lifetime.Ticks)
            {
                if (Provider._entries.TryRemove(new KeyValuePair<TokenKey, Entry>(Key, Entry))) Entry.Dispose();
                return;
            }
            Provider.StartRefresh(Key);
        }
    }

    /// <summary>Stops background refreshes and forgets every token.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var entry in _entries.Values) entry.Dispose();
        _entries.Clear();
    }

    private readonly record struct TokenKey(string Host, string Region, string User);

    private sealed class Entry(DsqlToken token, long refreshAtTicks, long usableUntilTicks, long lastUsedTicks) : IDisposable
    {
        public DsqlToken Token { get; } = token;
        public long RefreshAtTicks { get; } = refreshAtTicks;
        public long UsableUntilTicks { get; } = usableUntilTicks;
        public long LastUsedTicks = lastUsedTicks;
        public ITimer? Timer { get; set; }

        public void Dispose() => Timer?.Dispose();
    }
}
