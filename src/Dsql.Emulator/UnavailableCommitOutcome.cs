namespace Dsql.Emulator;

/// <summary>
/// What happened to a transaction whose <c>COMMIT</c> was answered <c>XX000 server unavailable</c>
/// (<see cref="EndpointOutage.ServerUnavailable"/>). The client cannot tell the two apart: AWS's guidance is to treat
/// such a commit as of unknown outcome.
/// </summary>
public enum UnavailableCommitOutcome
{
    /// <summary>The transaction is rolled back: nothing it wrote is committed.</summary>
    NotCommitted,

    /// <summary>The transaction commits, and the client is answered <c>XX000 server unavailable</c> all the same.</summary>
    Committed,
}
