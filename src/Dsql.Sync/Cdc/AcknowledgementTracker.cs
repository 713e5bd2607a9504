namespace Dsql.Sync.Cdc;

/// <summary>
/// Decides which position a stream confirms to the server (the flush and applied LSN of its status updates). Only
/// two things move it: an acknowledgement of the consumer (<see cref="Acknowledge"/>), and, while every transaction
/// delivered is acknowledged and none is being received, the position the server has sent up to
/// (<see cref="AdvanceWhenIdle"/>), past which there is nothing for this stream (changes to other tables, other
/// databases) and which the server would otherwise keep in its log for ever.
/// </summary>
/// <remarks>
/// PostgreSQL skips, on a restart, every transaction whose commit record starts before the confirmed position. A
/// transaction is confirmed by its commit LSN + 1: inside its own commit record, before the next one. The idle advance
/// is safe because the server sends transactions in commit order and the position it reports has passed only
/// transactions already received; a transaction being received (or delivered and not acknowledged) stops it.
/// </remarks>
internal sealed class AcknowledgementTracker
{
    private readonly object _gate = new();
    private ulong _confirmed;
    private ulong _delivered;
    private ulong _acknowledged;
    private bool _receiving;

    /// <summary>The position to confirm (0: none yet, which the server ignores).</summary>
    public ulong Confirmed { get { lock (_gate) return _confirmed; } }

    /// <summary>The commit LSN of the last transaction the consumer acknowledged (0: none yet).</summary>
    public ulong Acknowledged { get { lock (_gate) return _acknowledged; } }

    /// <summary>A new stream starts at the slot's confirmed position <paramref name="slotConfirmed"/>: never confirm less.</summary>
    public void Start(ulong slotConfirmed)
    {
        lock (_gate)
        {
            _delivered = 0;
            _receiving = false;
            if (slotConfirmed > _confirmed) _confirmed = slotConfirmed;
        }
    }

    /// <summary>A transaction's first message arrived.</summary>
    public void Receiving()
    {
        lock (_gate) _receiving = true;
    }

    /// <summary>The transaction committed at <paramref name="commitLsn"/> goes to the consumer.</summary>
    public void Delivered(ulong commitLsn)
    {
        lock (_gate)
        {
            _receiving = false;
            if (commitLsn > _delivered) _delivered = commitLsn;
        }
    }

    /// <summary>A transaction with nothing for the consumer ended (it is not delivered).</summary>
    public void Skipped()
    {
        lock (_gate) _receiving = false;
    }

    /// <summary>The consumer applied the transaction committed at <paramref name="commitLsn"/> and all before it.</summary>
    /// <returns>Whether the position to confirm moved.</returns>
    public bool Acknowledge(ulong commitLsn)
    {
        lock (_gate)
        {
            if (commitLsn > _acknowledged) _acknowledged = commitLsn;
            ulong position = commitLsn == ulong.MaxValue ? commitLsn : commitLsn + 1;
            if (position <= _confirmed) return false;
            _confirmed = position;
            return true;
        }
    }

    /// <summary>The server has sent everything before <paramref name="receivedLsn"/>; confirm it if nothing is outstanding.</summary>
    /// <returns>Whether the position to confirm moved.</returns>
    public bool AdvanceWhenIdle(ulong receivedLsn)
    {
        lock (_gate)
        {
            if (_receiving || _acknowledged < _delivered || receivedLsn <= _confirmed) return false;
            _confirmed = receivedLsn;
            return true;
        }
    }
}
