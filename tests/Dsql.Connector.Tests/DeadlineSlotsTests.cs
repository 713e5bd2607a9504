using System.Diagnostics;

namespace Dsql.Connector.Tests;

/// <summary>The shared deadline tokens of bounded opens: shared when opens start close together, never early.</summary>
public sealed class DeadlineSlotsTests
{
    [Fact]
    public void Opens_that_start_together_share_one_token()
    {
        var slots = new DeadlineSlots(TimeSpan.FromSeconds(30));
        long now = Stopwatch.GetTimestamp();
        var first = slots.For(now);
        Assert.Equal(first, slots.For(now));
        Assert.Equal(first, slots.For(now + 1));
        Assert.False(first.IsCancellationRequested);
    }

    [Fact]
    public void An_open_that_starts_a_granularity_later_gets_a_token_of_its_own()
    {
        var slots = new DeadlineSlots(TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromMilliseconds(100), slots.Granularity);
        long now = Stopwatch.GetTimestamp();
        var first = slots.For(now);
        long later = now + (long)(0.2 * Stopwatch.Frequency);
        Assert.NotEqual(first, slots.For(later));
        // An earlier start cannot reuse a slot that fires later than its deadline plus the granularity... nor an earlier one.
        Assert.NotEqual(slots.For(later), slots.For(now - (long)(0.2 * Stopwatch.Frequency)));
    }

    [Fact]
    public void A_short_budget_has_a_finer_granularity()
        => Assert.Equal(TimeSpan.FromMilliseconds(50), new DeadlineSlots(TimeSpan.FromMilliseconds(500)).Granularity);

    [Fact]
    public async Task A_token_fires_once_its_budget_is_spent()
    {
        var slots = new DeadlineSlots(TimeSpan.FromMilliseconds(200));
        var token = slots.For(Stopwatch.GetTimestamp());
        var fired = new TaskCompletionSource();
        using var registration = token.Register(() => fired.TrySetResult());
        Assert.Same(fired.Task, await Task.WhenAny(fired.Task, Task.Delay(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public async Task A_start_longer_ago_than_the_budget_gets_a_token_that_fires_at_once()
    {
        var slots = new DeadlineSlots(TimeSpan.FromSeconds(1));
        var token = slots.For(Stopwatch.GetTimestamp() - 5 * Stopwatch.Frequency);
        var fired = new TaskCompletionSource();
        using var registration = token.Register(() => fired.TrySetResult());
        Assert.Same(fired.Task, await Task.WhenAny(fired.Task, Task.Delay(TimeSpan.FromSeconds(10))));
    }
}
