namespace Dsql.Emulator;

/// <summary>Where <see cref="EmulatorFaults.CutSessionsAtCommit"/> cuts a session that sends COMMIT.</summary>
public enum CommitCutPoint
{
    /// <summary>The COMMIT never reaches the database: the transaction is rolled back, and the client sees its connection drop while COMMIT is in flight.</summary>
    BeforeCommit,

    /// <summary>The database commits, and the session is cut before its answer reaches the client: committed, but the client cannot know.</summary>
    AfterCommit,
}
