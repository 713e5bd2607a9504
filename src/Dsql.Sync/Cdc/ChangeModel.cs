namespace Dsql.Sync.Cdc;

/// <summary>What a row change does.</summary>
public enum ChangeKind
{
    /// <summary>A new row: <see cref="RowChange.NewValues"/> holds every column.</summary>
    Insert,

    /// <summary>
    /// A changed row: <see cref="RowChange.NewValues"/> holds the row after the change; <see cref="RowChange.OldKey"/>
    /// holds the key before it when the key itself changed (null otherwise: the key is in the new values).
    /// </summary>
    Update,

    /// <summary>A deleted row: <see cref="RowChange.OldKey"/> holds its key.</summary>
    Delete,

    /// <summary>Every row of the table removed (applied on DSQL as deletes: DSQL has no TRUNCATE).</summary>
    Truncate,
}

/// <summary>One column of a source table as the change stream describes it.</summary>
/// <param name="Name">The column name, as stored in the catalog.</param>
/// <param name="SourceType">Its type as PostgreSQL formats it (<c>format_type</c>): <c>numeric(12,2)</c>, <c>text[]</c>.</param>
/// <param name="IsKey">Whether the column is part of the table's replica identity (its primary key).</param>
public sealed record ChangeColumn(string Name, string SourceType, bool IsKey);

/// <summary>
/// A source table's shape at a point of the stream. The stream announces a new shape (a column added or dropped at
/// the source) before the first change that uses it; changes before and after refer to different instances.
/// </summary>
/// <param name="Schema">The schema (the same name on DSQL).</param>
/// <param name="Name">The table name.</param>
/// <param name="Columns">Every column, in the source's order (the order of the values in a <see cref="RowChange"/>).</param>
public sealed record ChangeTable(string Schema, string Name, IReadOnlyList<ChangeColumn> Columns)
{
    /// <summary>The key columns, in the table's column order.</summary>
    public IReadOnlyList<ChangeColumn> Key => Columns.Where(c => c.IsKey).ToList();

    /// <summary><c>schema.name</c>, unquoted.</summary>
    public override string ToString() => Schema + "." + Name;
}

/// <summary>
/// A column value in a change: PostgreSQL's text form of the value (what <c>pgoutput</c> sends), SQL NULL, or
/// "unchanged": a large (TOASTed) value an update did not touch, which the stream does not repeat.
/// </summary>
public readonly record struct ChangeValue(string? Text, bool IsUnchanged = false)
{
    /// <summary>SQL NULL.</summary>
    public static ChangeValue Null => default;

    /// <summary>A value the update left as it was (not sent by the source).</summary>
    public static ChangeValue Unchanged => new(null, true);

    /// <summary>Whether the value is SQL NULL.</summary>
    public bool IsNull => Text is null && !IsUnchanged;
}

/// <summary>One change of one row (or, for <see cref="ChangeKind.Truncate"/>, of a whole table).</summary>
/// <param name="Kind">What the change does.</param>
/// <param name="Table">The table's shape when the change was made.</param>
/// <param name="NewValues">For inserts and updates: one value per column of <paramref name="Table"/>, in its order.</param>
/// <param name="OldKey">For deletes, and updates that change the key: one value per column of <see cref="ChangeTable.Key"/>, in its order.</param>
public sealed record RowChange(ChangeKind Kind, ChangeTable Table, IReadOnlyList<ChangeValue>? NewValues, IReadOnlyList<ChangeValue>? OldKey);

/// <summary>One committed source transaction: its changes in the order they were made.</summary>
/// <param name="CommitLsn">The log position of its commit (increasing from one transaction to the next).</param>
/// <param name="CommitTime">When it committed at the source (for lag).</param>
/// <param name="TransactionId">The source's transaction id (for messages).</param>
/// <param name="Changes">The row changes, in order.</param>
public sealed record SourceTransaction(ulong CommitLsn, DateTimeOffset CommitTime, uint TransactionId, IReadOnlyList<RowChange> Changes);

/// <summary>
/// How far the stream has been applied: every source transaction that committed before <see cref="CommitLsn"/>, and
/// the first <see cref="Applied"/> changes of the transaction at <see cref="CommitLsn"/> (all of them when
/// <see cref="Complete"/>). A source transaction larger than DSQL's limits is applied in several DSQL transactions;
/// this is how a restart knows where inside it to go on.
/// </summary>
/// <param name="CommitLsn">The commit position of the last transaction applied, wholly or in part (0: nothing yet).</param>
/// <param name="Applied">How many of its changes are applied.</param>
/// <param name="Complete">Whether all of its changes are applied.</param>
public readonly record struct ChangePosition(ulong CommitLsn, int Applied, bool Complete)
{
    /// <summary>Nothing applied yet.</summary>
    public static ChangePosition Start => new(0, 0, true);

    /// <summary>Whether change <paramref name="index"/> (0-based) of the transaction committed at <paramref name="commitLsn"/> is already applied.</summary>
    public bool Covers(ulong commitLsn, int index)
        => commitLsn < CommitLsn || (commitLsn == CommitLsn && (Complete || index < Applied));

    /// <inheritdoc/>
    public override string ToString() => Complete ? $"{Lsn(CommitLsn)}" : $"{Lsn(CommitLsn)} (first {Applied} changes)";

    /// <summary>An LSN in PostgreSQL's notation (<c>16/B374D848</c>).</summary>
    public static string Lsn(ulong lsn) => $"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}";
}
