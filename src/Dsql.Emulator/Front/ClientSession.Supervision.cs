using System.Net.Sockets;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Protocol;
using Dsql.Emulator.Rules;

namespace Dsql.Emulator.Front;

/// <summary>Age supervision, cancellation and closing of a session.</summary>
internal sealed partial class ClientSession
{
    // ---------------------------------------------------------------- supervision

    /// <summary>Called by the emulator's supervisor: applies the connection and transaction age limits.</summary>
    public void Supervise(DateTimeOffset now)
    {
        if (!IsProxying || _closing.IsCancellationRequested) return;
        bool busy = _groups.TryPeek(out var head);
        var snapshot = new SessionSnapshot(now, ConnectedAt, _status, Interlocked.Read(ref _transactionStartTicks), busy, head.Injected, head.StartTicks);
        switch (_age.Decide(snapshot))
        {
            case AgeAction.CloseConnection:
                Log.ConnectionAgeExceeded(_logger, Id, _age.MaxConnectionAge.TotalMinutes);
                _ = CloseWithErrorAsync(PgConstants.AdminShutdown, DsqlMessages.ConnectionAge(_age.MaxConnectionAge));
                break;
            case AgeAction.CancelStatement:
                // A statement is running: cancel it, and report the cancellation as DSQL's age error.
                if (!_age.TryMarkCancelSent()) return;
                Log.TransactionAgeExceeded(_logger, Id, _age.MaxTransactionAge.TotalSeconds, "cancelling the running statement");
                _ = CancelBackendAsync();
                break;
            case AgeAction.AbortIdleTransaction:
                _ = AbortIdleTransactionAsync();
                break;
        }
    }

    /// <summary>Fails an idle transaction that outlived the age limit, so the client's next statement learns of it.</summary>
    private async Task AbortIdleTransactionAsync()
    {
        var writer = _backend!.Writer;
        if (!await writer.Lock.WaitAsync(0).ConfigureAwait(false)) return; // the client is sending: try on the next tick
        try
        {
            if (!_groups.IsEmpty || _status != StatusInTransaction) return;
            if (!_age.TryMarkAborted()) return;
            Log.TransactionAgeExceeded(_logger, Id, _age.MaxTransactionAge.TotalSeconds, "aborting the idle transaction");
            _groups.Enqueue(new RequestGroup(GroupKind.Injected, _services.Clock.GetUtcNow().UtcTicks));
            writer.BeginMessage(PgConstants.Query);
            writer.WriteCString(StatementRewriter.RaiseStatement(new(PgConstants.ProgramLimitExceeded, DsqlMessages.TransactionAge(_age.MaxTransactionAge))));
            writer.EndMessage();
            await writer.FlushAsync(_closing.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            // The session is ending anyway.
        }
        finally
        {
            writer.Lock.Release();
        }
    }

    public async Task CancelBackendAsync()
    {
        var backend = _backend;
        if (backend is null) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await BackendConnection.SendCancelAsync(_services.Backend, backend.ProcessId, backend.SecretKey, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            Log.CancelFailed(_logger, Id, ex.Message);
        }
    }

    /// <summary>Ends the session with a FATAL error to the client (age cap, fault injection, shutdown).</summary>
    public async Task CloseWithErrorAsync(string sqlState, string message)
    {
        if (_closing.IsCancellationRequested) return;
        var writer = _clientWriter;
        if (writer is not null && IsProxying)
        {
            bool locked = false;
            try
            {
                locked = await writer.Lock.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                if (locked)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await writer.FlushAsync(timeout.Token).ConfigureAwait(false);
                    PgErrorFields.Create("FATAL", sqlState, message).WriteTo(writer, PgConstants.ErrorResponse);
                    await writer.FlushAsync(timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
            {
                // The client is gone already.
            }
            finally
            {
                if (locked) writer.Lock.Release();
            }
        }
        Close();
    }

    public void Close()
    {
        try { _closing.Cancel(); } catch (ObjectDisposedException) { }
        _socket.Dispose();
        (_backend ?? _handshake.Backend)?.Socket.Dispose();
    }

    private async Task CleanupAsync()
    {
        bool statementInFlight = IsProxying && !_groups.IsEmpty;
        if (statementInFlight)
        {
            // A client that vanished mid-query must not leave its statement running on the backend.
            await CancelBackendAsync().ConfigureAwait(false);
        }
        Close();
        _handshake.ClientStream?.Dispose();
        (_backend ?? _handshake.Backend)?.Dispose();
        if (_handshake.Counted) Interlocked.Decrement(ref _handshake.Endpoint.OpenSessions);
        _services.Registry.Unregister(this);
        if (IsProxying) Log.SessionClosed(_logger, Id);
    }
}
