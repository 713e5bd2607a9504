namespace Dsql.Sync.Cdc;

/// <summary>What kind of obstacle a <see cref="ChangeSourceProblem"/> is.</summary>
public enum ChangeSourceProblemKind
{
    /// <summary>The server's <c>wal_level</c> is not <c>logical</c>.</summary>
    WalLevel,

    /// <summary>The role may not open replication connections (no REPLICATION attribute).</summary>
    ReplicationPrivilege,

    /// <summary>Every replication slot the server allows (<c>max_replication_slots</c>) is taken.</summary>
    ReplicationSlots,

    /// <summary>Every wal sender the server allows (<c>max_wal_senders</c>) is busy.</summary>
    WalSenders,

    /// <summary>The slot is missing when streaming, belongs to another plugin or database, or another process streams from it.</summary>
    Slot,

    /// <summary>A selected table does not exist or is not an ordinary or partitioned table.</summary>
    Table,

    /// <summary>A selected table has no primary key or replica identity, so its updates and deletes could not be applied.</summary>
    ReplicaIdentity,

    /// <summary>The existing publication does not publish every kind of change.</summary>
    Publication,

    /// <summary>The role lacks a privilege the setup or the full load needs.</summary>
    Privilege,
}

/// <summary>One obstacle to streaming changes from the source: what is wrong and how to fix it.</summary>
/// <param name="Kind">What kind of obstacle it is.</param>
/// <param name="Message">What is wrong and the fix (a setting, a statement to run).</param>
public sealed record ChangeSourceProblem(ChangeSourceProblemKind Kind, string Message)
{
    /// <summary>The message.</summary>
    /// <returns><see cref="Message"/>.</returns>
    public override string ToString() => Message;
}

/// <summary>
/// Thrown by <see cref="PostgresChangeSource.CheckAsync"/> (and the calls that check first) when the source cannot
/// stream changes as configured. It lists every problem found, each naming its fix.
/// </summary>
public sealed class ChangeSourceException : Exception
{
    /// <summary>Creates the exception for the problems found.</summary>
    /// <param name="problems">At least one problem.</param>
    public ChangeSourceException(IReadOnlyList<ChangeSourceProblem> problems)
        : base(Describe(problems))
    {
        Problems = Array.AsReadOnly(problems.ToArray());
    }

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<ChangeSourceProblem> Problems { get; }

    private static string Describe(IReadOnlyList<ChangeSourceProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (problems.Count == 0) throw new ArgumentException("At least one problem is needed.", nameof(problems));
        var noun = problems.Count == 1 ? "problem" : "problems";
        return $"The PostgreSQL source cannot stream changes ({problems.Count} {noun}):" + Environment.NewLine +
               string.Join(Environment.NewLine, problems.Select(p => "  - " + p.Message));
    }
}
