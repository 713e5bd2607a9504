using System.Diagnostics;

namespace Dsql.Connector;

/// <summary>
/// Cancellation tokens that fire when an open's budget runs out, shared by the opens that start close together: every
/// open needs one (Npgsql's asynchronous open honours only its token during a direct-TLS handshake), and a
/// timer-backed <see cref="CancellationTokenSource"/> per pooled rent would cost an allocation and a timer-queue
/// update on the path every request takes. A token handed out never fires before <c>start + budget</c> and at most
/// <see cref="Granularity"/> after it.
/// </summary>
internal sealed class DeadlineSlots(TimeSpan budget)
{
    /// <summary>How late a shared token may fire: a tenth of the budget, at most 100 ms.</summary>
    public TimeSpan Granularity { get; } = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(100).Ticks, budget.Ticks / 10));

    private readonly long _budgetTimestamps = (long)(budget.TotalSeconds * Stopwatch.Frequency);
    private Slot? _current;

    /// <summary>A token that fires between <c>started + budget</c> and <see cref="Granularity"/> later (<paramref name="started"/>: a <see cref="Stopwatch"/> timestamp).</summary>
    public CancellationToken For(long started)
    {
        long due = started + _budgetTimestamps;
        var slot = Volatile.Read(ref _current);
        if (slot is not null && slot.FiresAt >= due && slot.FiresAt - due <= slot.Width) return slot.Token;
        long width = (long)(Granularity.TotalSeconds * Stopwatch.Frequency);
        var source = new CancellationTokenSource();
        var fresh = new Slot(due + width, width, source.Token);
        // Never disposed: the timer lets go of it once it fired, and tokens handed out must stay usable until then.
        source.CancelAfter(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), fresh.FiresAt) is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
        Interlocked.CompareExchange(ref _current, fresh, slot);
        return fresh.Token;
    }

    private sealed record Slot(long FiresAt, long Width, CancellationToken Token);
}
