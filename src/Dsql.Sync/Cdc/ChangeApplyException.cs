namespace Dsql.Sync.Cdc;

/// <summary>
/// <see cref="DsqlChangeApplier"/> stopped on a change it could not apply: the message names the table, the kind of
/// change, its position and the reason. The stored position stays before the change, so a restart meets it again.
/// </summary>
public sealed class ChangeApplyException : Exception
{
    internal ChangeApplyException(string message, string? table, ChangeKind? kind, ulong commitLsn, int changeIndex, string? sqlState, Exception? inner)
        : base(message, inner)
    {
        Table = table;
        Kind = kind;
        CommitLsn = commitLsn;
        ChangeIndex = changeIndex;
        SqlState = sqlState;
    }

    /// <summary>The table (<c>schema.name</c>) of the change, when the failure concerns one.</summary>
    public string? Table { get; }

    /// <summary>The kind of change, when the failure concerns one.</summary>
    public ChangeKind? Kind { get; }

    /// <summary>The commit position of the source transaction holding the change.</summary>
    public ulong CommitLsn { get; }

    /// <summary>The change's index (0-based) in its source transaction.</summary>
    public int ChangeIndex { get; }

    /// <summary>The SQLSTATE DSQL answered, when it refused a statement.</summary>
    public string? SqlState { get; }
}
