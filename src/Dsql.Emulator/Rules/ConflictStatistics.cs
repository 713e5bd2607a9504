namespace Dsql.Emulator.Rules;

/// <summary>
/// Counts the write-write conflicts the emulator reported, by where the client learnt of them. DSQL reports a
/// conflict at COMMIT; the emulator does too when it can answer the loser's statement as DSQL would have.
/// </summary>
public sealed class ConflictStatistics
{
    private long _atCommit;
    private long _atStatement;
    private long _autocommit;
    private long _schemaChanged;
    private long _savepoints;

    /// <summary>Conflicts reported as 40001 OC000 at COMMIT, as DSQL does.</summary>
    public long AtCommit => Interlocked.Read(ref _atCommit);

    /// <summary>
    /// Conflicts inside an explicit transaction reported at the statement instead (the emulator could not reproduce
    /// the statement's answer: RETURNING, several statements in one batch, SELECT ... FOR UPDATE, MERGE, ...).
    /// </summary>
    public long AtStatement => Interlocked.Read(ref _atStatement);

    /// <summary>Conflicts of statements outside an explicit transaction: the statement is its own COMMIT, as on DSQL.</summary>
    public long InAutocommit => Interlocked.Read(ref _autocommit);

    /// <summary>Transactions failed with 40001 OC001 because a table they used changed shape under them.</summary>
    public long SchemaChanged => Interlocked.Read(ref _schemaChanged);

    /// <summary>
    /// Internal savepoints taken to protect a DML statement inside an explicit transaction. The first statement after
    /// a BEGIN sent as a simple query needs none; each later DML statement takes one, which costs a subtransaction on
    /// the backend.
    /// </summary>
    public long Savepoints => Interlocked.Read(ref _savepoints);

    internal void CountSavepoint() => Interlocked.Increment(ref _savepoints);
    internal void CountAtCommit() => Interlocked.Increment(ref _atCommit);
    internal void CountAtStatement() => Interlocked.Increment(ref _atStatement);
    internal void CountAutocommit() => Interlocked.Increment(ref _autocommit);
    internal void CountSchemaChanged() => Interlocked.Increment(ref _schemaChanged);

    /// <inheritdoc />
    public override string ToString() => $"at commit {AtCommit}, at statement {AtStatement}, autocommit {InAutocommit}, schema changed {SchemaChanged}, savepoints {Savepoints}";
}
