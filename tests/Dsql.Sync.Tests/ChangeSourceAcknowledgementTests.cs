using Dsql.Sync.Cdc;

namespace Dsql.Sync.Tests;

/// <summary>The position a change stream confirms to the server (pure logic).</summary>
public sealed class ChangeSourceAcknowledgementTests
{
    [Fact]
    public void An_acknowledgement_confirms_just_past_the_commit_and_never_goes_back()
    {
        var tracker = new AcknowledgementTracker();
        tracker.Start(100);
        Assert.Equal(100UL, tracker.Confirmed);
        Assert.True(tracker.Acknowledge(200));
        Assert.Equal(201UL, tracker.Confirmed);
        Assert.False(tracker.Acknowledge(150));
        Assert.Equal(201UL, tracker.Confirmed);
        tracker.Start(50);
        Assert.Equal(201UL, tracker.Confirmed);
    }

    [Fact]
    public void Idle_positions_are_confirmed_only_while_nothing_delivered_waits_and_nothing_is_being_received()
    {
        var tracker = new AcknowledgementTracker();
        tracker.Start(100);
        Assert.True(tracker.AdvanceWhenIdle(120));
        Assert.Equal(120UL, tracker.Confirmed);

        tracker.Receiving();
        Assert.False(tracker.AdvanceWhenIdle(130));
        tracker.Delivered(140);
        Assert.False(tracker.AdvanceWhenIdle(160));
        Assert.Equal(120UL, tracker.Confirmed);

        tracker.Acknowledge(140);
        Assert.Equal(141UL, tracker.Confirmed);
        Assert.True(tracker.AdvanceWhenIdle(160));
        Assert.Equal(160UL, tracker.Confirmed);

        tracker.Receiving();
        tracker.Skipped();
        Assert.True(tracker.AdvanceWhenIdle(170));
        Assert.False(tracker.AdvanceWhenIdle(165));
        Assert.Equal(170UL, tracker.Confirmed);
    }
}
