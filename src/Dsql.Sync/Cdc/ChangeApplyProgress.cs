namespace Dsql.Sync.Cdc;

/// <summary>What a <see cref="DsqlChangeApplier"/> run has committed so far, reported after each DSQL commit.</summary>
public sealed class ChangeApplyProgress
{
    /// <summary>The position committed last.</summary>
    public ChangePosition Position { get; init; }

    /// <summary>Changes applied by this run (dead letters not included).</summary>
    public long Changes { get; init; }

    /// <summary>DSQL transactions committed by this run.</summary>
    public long Transactions { get; init; }

    /// <summary>Changes written to the dead-letter table by this run.</summary>
    public long DeadLetters { get; init; }

    /// <summary>From the source commit of the last transaction applied to its commit on DSQL.</summary>
    public TimeSpan Lag { get; init; }
}
