using Dsql.Connector.Tests.Infrastructure;

namespace Dsql.Connector.Tests;

/// <summary>The connect pacer on a manual clock: what it grants, when, in which order, and what reservations do.</summary>
public sealed class ConnectPacerTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1000, 950)] // DSQL's burst: 5% held back
    [InlineData(20, 19)]    // at least one held back
    [InlineData(1, 1)]      // never below one
    public void The_bucket_holds_back_a_margin_from_the_burst(int burst, double capacity)
        => Assert.Equal(capacity, new ConnectPacer(100, burst).Capacity);

    [Theory]
    [InlineData(0, 10)]
    [InlineData(-1, 10)]
    [InlineData(double.NaN, 10)]
    [InlineData(double.PositiveInfinity, 10)]
    [InlineData(10, 0)]
    public void Rejects_a_rate_or_burst_that_cannot_pace(double rate, int burst)
        => Assert.ThrowsAny<ArgumentOutOfRangeException>(() => new ConnectPacer(rate, burst));

    [Fact]
    public void Grants_the_burst_at_once_and_then_the_steady_rate()
    {
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(10, 20, clock);
        for (int i = 0; i < 19; i++) Assert.True(pacer.TryTake(), $"permit {i + 1} of the burst");
        Assert.False(pacer.TryTake());
        clock.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(pacer.TryTake());
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(pacer.TryTake());
        Assert.False(pacer.TryTake());
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(10, pacer.Available, precision: 6);
    }

    [Fact]
    public void A_full_bucket_does_not_refill_while_its_permits_are_only_reserved()
    {
        // The server's bucket refills only once tokens arrive; reservations must not let the client run ahead.
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(10, 20, clock);
        for (int i = 0; i < 19; i++) Assert.True(pacer.TryReserve());
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, pacer.Available, precision: 6);
        Assert.False(pacer.TryTake());

        for (int i = 0; i < 19; i++) pacer.UseReserved();
        Assert.Equal(0, pacer.Available, precision: 6);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(10, pacer.Available, precision: 6);
    }

    [Fact]
    public void A_released_reservation_is_free_again_and_costs_nothing()
    {
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(10, 3, clock);
        Assert.True(pacer.TryReserve());
        Assert.True(pacer.TryReserve());
        Assert.False(pacer.TryReserve());
        pacer.Release();
        Assert.Equal(1, pacer.Available, precision: 6);
        pacer.Release();
        Assert.Equal(2, pacer.Available, precision: 6);
    }

    [Fact]
    public async Task Waiters_are_served_in_the_order_they_came_as_permits_accrue()
    {
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(10, 2, clock);
        Assert.True(pacer.TryTake());
        var first = pacer.TakeAsync(CancellationToken.None).AsTask();
        var second = pacer.ReserveAsync(CancellationToken.None).AsTask();
        var third = pacer.TakeAsync(CancellationToken.None).AsTask();
        Assert.False(pacer.TryTake()); // someone is waiting: no overtaking
        Assert.False(first.IsCompleted);

        clock.Advance(TimeSpan.FromMilliseconds(100));
        await first.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(second.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(100));
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(third.IsCompleted);
        pacer.UseReserved();
        clock.Advance(TimeSpan.FromMilliseconds(100));
        await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(pacer.TryTake());
    }

    [Fact]
    public async Task A_released_reservation_wakes_the_next_waiter_at_once()
    {
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(10, 2, clock);
        Assert.True(pacer.TryReserve());
        var waiting = pacer.ReserveAsync(CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        pacer.Release(); // the connect failed before its token: its permit goes to the next in line
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task No_more_reservations_than_the_limit_are_outstanding()
    {
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(100, 1000, clock, maxReserved: 2);
        Assert.True(pacer.TryReserve());
        Assert.True(pacer.TryReserve());
        Assert.False(pacer.TryReserve());
        Assert.True(pacer.TryTake()); // taking at the token step is not a reservation
        var third = pacer.ReserveAsync(CancellationToken.None).AsTask();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(third.IsCompleted);
        pacer.UseReserved();
        await third.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_cancelled_waiter_takes_nothing_and_lets_the_next_one_through()
    {
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(10, 2, clock);
        Assert.True(pacer.TryTake());
        using var cancel = new CancellationTokenSource();
        var cancelled = pacer.TakeAsync(cancel.Token).AsTask();
        var next = pacer.TakeAsync(CancellationToken.None).AsTask();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        clock.Advance(TimeSpan.FromMilliseconds(100));
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, pacer.Available, precision: 6);
    }

    [Fact]
    public void A_blocking_wait_gives_up_after_its_timeout_and_leaves_nothing_behind()
    {
        var clock = new ManualClock(Start);
        var pacer = new ConnectPacer(10, 2, clock);
        Assert.True(pacer.TryTake());
        Assert.False(pacer.Wait(reserve: false, TimeSpan.FromMilliseconds(50)));
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(pacer.TryTake()); // the abandoned wait did not keep the permit
    }
}
