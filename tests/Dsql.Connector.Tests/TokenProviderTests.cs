using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;

namespace Dsql.Connector.Tests;

/// <summary>The token cache: hits are free, misses share one signing, tokens are refreshed ahead of expiry.</summary>
public sealed class TokenProviderTests
{
    private const string Host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string Region = "us-east-1";
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 8, 0, 0, TimeSpan.Zero);

    private static (DsqlTokenProvider Provider, ManualClock Clock) Create(TimeSpan? lifetime = null)
    {
        var clock = new ManualClock(Start);
        var generator = new DsqlTokenGenerator(new BasicAWSCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), clock);
        return (new DsqlTokenProvider(generator, lifetime, clock), clock);
    }

    [Fact]
    public async Task A_cache_hit_returns_the_same_token_and_allocates_nothing()
    {
        var (provider, _) = Create();
        string first = await provider.GetTokenAsync(Host, Region, "admin");
        // Warm the path once, then measure.
        _ = provider.GetTokenAsync(Host, Region, "admin");
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            var pending = provider.GetTokenAsync(Host, Region, "admin");
            Assert.True(pending.IsCompletedSuccessfully);
            Assert.Same(first, CompletedResult(pending));
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task Tokens_are_cached_per_host_region_and_user()
    {
        var (provider, _) = Create();
        string admin = await provider.GetTokenAsync(Host, Region, "admin");
        string app = await provider.GetTokenAsync(Host, Region, "app");
        string otherRegion = await provider.GetTokenAsync(Host.Replace("us-east-1", "us-east-2", StringComparison.Ordinal), "us-east-2", "admin");
        Assert.Contains("Action=DbConnectAdmin", admin, StringComparison.Ordinal);
        Assert.Contains("Action=DbConnect&", app, StringComparison.Ordinal);
        Assert.NotEqual(admin, otherRegion);
        Assert.Equal(3, provider.Count);
    }

    [Fact]
    public async Task Concurrent_misses_share_one_signing()
    {
        var (provider, _) = Create();
        var tokens = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () => await provider.GetTokenAsync(Host, Region, "admin"))));
        Assert.Single(tokens.Distinct());
    }

    [Fact]
    public async Task A_token_is_refreshed_in_the_background_after_two_thirds_of_its_lifetime()
    {
        var (provider, clock) = Create(TimeSpan.FromSeconds(900));
        string first = await provider.GetTokenAsync(Host, Region, "admin");
        clock.Advance(TimeSpan.FromSeconds(599));
        Assert.Same(first, await provider.GetTokenAsync(Host, Region, "admin"));
        clock.Advance(TimeSpan.FromSeconds(2)); // the refresh timer fires at 600 s
        string refreshed = await WaitForChangeAsync(provider, first);
        Assert.NotEqual(first, refreshed);
        Assert.Contains("X-Amz-Date=20261121T081001Z", refreshed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_inside_its_safety_margin_is_replaced_before_use()
    {
        var clock = new ManualClock(Start);
        var generator = new DsqlTokenGenerator(new BasicAWSCredentials("AKIAIOSFODNN7EXAMPLE", "secret"), clock);
        using var provider = new DsqlTokenProvider(generator, TimeSpan.FromSeconds(60), new NoTimers(clock));
        string first = await provider.GetTokenAsync(Host, Region, "admin");
        clock.Advance(TimeSpan.FromSeconds(55)); // 5 s left: less than the margin of 6 s (a tenth of the lifetime)
        string second = await provider.GetTokenAsync(Host, Region, "admin");
        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task Unused_entries_are_dropped_instead_of_refreshed()
    {
        var (provider, clock) = Create(TimeSpan.FromSeconds(60));
        await provider.GetTokenAsync(Host, Region, "admin");
        for (int i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(41));
            await Task.Delay(20);
        }
        Assert.Equal(0, provider.Count);
        Assert.Equal(0, clock.ActiveTimers);
    }

    [Fact]
    public void Invalid_lifetime_is_rejected_naming_it()
    {
        var generator = new DsqlTokenGenerator(new BasicAWSCredentials("AKIAIOSFODNN7EXAMPLE", "secret"));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new DsqlTokenProvider(generator, TimeSpan.Zero));
        Assert.Equal("tokenLifetime", ex.ParamName);
    }

    /// <summary>The result of a ValueTask already known to be complete (reading it cannot block).</summary>
    private static string CompletedResult(ValueTask<string> completed) => completed.Result;

    private static async Task<string> WaitForChangeAsync(DsqlTokenProvider provider, string previous)
    {
        for (int i = 0; i < 200; i++)
        {
            string current = await provider.GetTokenAsync(Host, Region, "admin");
            if (!ReferenceEquals(current, previous)) return current;
            await Task.Delay(10);
        }
        return previous;
    }

    /// <summary>The same clock without timers: only the expiry check on use can replace a token.</summary>
    private sealed class NoTimers(ManualClock inner) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new Inert();

        private sealed class Inert : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;
            public void Dispose() { }
            public ValueTask DisposeAsync() => default;
        }
    }
}
