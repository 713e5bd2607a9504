using Dsql.Emulator.Protocol;

namespace Dsql.Emulator.Rules;

/// <summary>What the supervisor must do to a session now.</summary>
internal enum AgeAction
{
    /// <summary>Nothing is over its limit.</summary>
    None,
    /// <summary>The connection is older than DSQL's connection age: close it with a FATAL error.</summary>
    CloseConnection,
    /// <summary>A statement of a transaction past its age is running: cancel it (reported as 54000).</summary>
    CancelStatement,
    /// <summary>An idle transaction is past its age: abort it so the next statement learns of it.</summary>
    AbortIdleTransaction,
}

/// <summary>A snapshot of a session, as the supervisor sees it.</summary>
/// <param name="Now">The emulator clock's time.</param>
/// <param name="ConnectedAt">When the connection was accepted.</param>
/// <param name="Status">The backend's last ReadyForQuery status ('I', 'T' or 'E').</param>
/// <param name="TransactionStartTicks">When the current transaction began (UTC ticks), valid when Status is not 'I'.</param>
/// <param name="Busy">True when a request group is in flight.</param>
/// <param name="HeadInjected">True when the request group in flight is the emulator's own.</param>
/// <param name="HeadStartTicks">When the request group in flight was sent (UTC ticks).</param>
internal readonly record struct SessionSnapshot(DateTimeOffset Now, DateTimeOffset ConnectedAt, byte Status, long TransactionStartTicks, bool Busy, bool HeadInjected, long HeadStartTicks);

/// <summary>
/// DSQL's connection and transaction age limits for one session: decides what to do when a limit is passed and
/// remembers what was done, so that the resulting PostgreSQL errors (query cancelled, transaction aborted, COMMIT
/// answered with ROLLBACK) can be reported as DSQL's 54000. Thread-safe: the supervisor timer and both pumps use it.
/// </summary>
internal sealed class AgeSupervision
{
    private const int StateNone = 0, StateCancelSent = 1, StateAborted = 2;

    private int _state;
    private volatile bool _abortUnreported;
    private volatile bool _commitPending;

    public AgeSupervision(TimeSpan maxConnectionAge, TimeSpan maxTransactionAge)
    {
        MaxConnectionAge = maxConnectionAge;
        MaxTransactionAge = maxTransactionAge;
    }

    public TimeSpan MaxConnectionAge { get; }
    public TimeSpan MaxTransactionAge { get; }

    /// <summary>True once the limit has been acted on in the current transaction.</summary>
    public bool Acted => Volatile.Read(ref _state) != StateNone;

    /// <summary>Decides what the session's age requires now (without recording anything).</summary>
    public AgeAction Decide(in SessionSnapshot session)
    {
        if (session.Now - session.ConnectedAt > MaxConnectionAge) return AgeAction.CloseConnection;
        if (Acted) return AgeAction.None;
        long startTicks;
        if (session.Status != (byte)'I') startTicks = session.TransactionStartTicks;
        else if (session.Busy && !session.HeadInjected) startTicks = session.HeadStartTicks;
        else return AgeAction.None;
        if (session.Now.UtcTicks - startTicks <= MaxTransactionAge.Ticks) return AgeAction.None;
        if (session.Busy) return AgeAction.CancelStatement;
        return session.Status == (byte)'T' ? AgeAction.AbortIdleTransaction : AgeAction.None;
    }

    /// <summary>Records that the running statement is being cancelled; false if the limit was acted on already.</summary>
    public bool TryMarkCancelSent() => Interlocked.CompareExchange(ref _state, StateCancelSent, StateNone) == StateNone;

    /// <summary>Records that the idle transaction is being aborted; false if the limit was acted on already.</summary>
    public bool TryMarkAborted()
    {
        if (Interlocked.CompareExchange(ref _state, StateAborted, StateNone) != StateNone) return false;
        _abortUnreported = true;
        _commitPending = false;
        return true;
    }

    /// <summary>The client sends COMMIT: if the transaction was ended by the limit, its ROLLBACK answer becomes 54000.</summary>
    public void OnCommitSent()
    {
        if (Acted) _commitPending = true;
    }

    /// <summary>True (once) when a ROLLBACK answer stands for a COMMIT of a transaction the limit ended.</summary>
    public bool TakeCommitPending()
    {
        if (!_commitPending) return false;
        _commitPending = false;
        return true;
    }

    /// <summary>True (once) when an error of this SQLSTATE is the consequence of the limit and must read as 54000.</summary>
    public bool TakeAgeError(string sqlState)
    {
        if (sqlState == PgConstants.QueryCanceled && Volatile.Read(ref _state) == StateCancelSent)
        {
            _abortUnreported = false;
            return true;
        }
        if (sqlState == PgConstants.InFailedTransaction && _abortUnreported)
        {
            _abortUnreported = false;
            return true;
        }
        return false;
    }

    /// <summary>The backend is idle: a new transaction starts with a clean slate.</summary>
    public void OnIdle()
    {
        Interlocked.Exchange(ref _state, StateNone);
        _abortUnreported = false;
        _commitPending = false;
    }
}
