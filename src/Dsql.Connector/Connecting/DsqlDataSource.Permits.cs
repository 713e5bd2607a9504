using System.Diagnostics;

namespace Dsql.Connector;

public sealed partial class DsqlDataSource
{
    // The password callback and the connect permits of the endpoint's rate bucket, one implementation for the
    // synchronous and the asynchronous open.

    internal string ProvidePassword(string user)
    {
        var password = ProvidePassword(async: false, user, CancellationToken.None);
        Debug.Assert(password.IsCompleted, "a synchronous password callback completed synchronously");
        return password.IsCompleted ? password.GetAwaiter().GetResult() : password.AsTask().GetAwaiter().GetResult();
    }

    internal ValueTask<string> ProvidePasswordAsync(string user, CancellationToken cancellationToken) => ProvidePassword(async: true, user, cancellationToken);

    /// <summary>
    /// The token first, the permit last: the token goes out right after the permit, so signing time never bunches
    /// paced connects together. An open that reserved its permit before its socket opened uses it now; others take one,
    /// waiting their turn within the open's budget (a synchronous open blocks its thread by nature; it waits the same way).
    /// </summary>
    private async ValueTask<string> ProvidePassword(bool async, string user, CancellationToken cancellationToken)
    {
        var open = CurrentOpen.Value is { } current && ReferenceEquals(current.Owner, this) ? current : null;
        RecordConnectAttempt(user);
        if (open is not null)
        {
            open.Seen = true;
            open.Phase = DsqlConnectPhase.Token;
        }
        string token = async
            ? await TokenProvider.GetTokenAsync(Endpoint, Region, user, cancellationToken).ConfigureAwait(false)
            : TokenProvider.GetToken(Endpoint, Region, user);
        if (open?.ClaimReservation(this) == true)
        {
            _pacer.UseReserved();
        }
        else if (!_pacer.TryTake())
        {
            if (open is not null) open.Phase = DsqlConnectPhase.ConnectPermit;
            long started = Stopwatch.GetTimestamp();
            if (async) await _pacer.TakeAsync(cancellationToken).ConfigureAwait(false);
            else if (!_pacer.Wait(reserve: false, open?.Remaining ?? _settings.OpenBudget)) throw PermitTimeout(open);
            LogWait(started);
        }
        if (open is not null) open.Phase = DsqlConnectPhase.Authentication;
        return token;
    }

    /// <summary>
    /// Reserves a connect permit before a physical open, waiting at most what is left of the open's budget. The
    /// password callback of the same open uses it; the attempt gives it back if it fails before.
    /// </summary>
    private async ValueTask ReserveBeforeOpen(OpenState open)
    {
        if (!_pacer.TryReserve())
        {
            open.Phase = DsqlConnectPhase.ConnectPermit;
            long started = Stopwatch.GetTimestamp();
            if (open.Async)
            {
                try
                {
                    await _pacer.ReserveAsync(open.NpgsqlToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!open.Caller.IsCancellationRequested)
                {
                    throw PermitTimeout(open);
                }
            }
            else if (!_pacer.Wait(reserve: true, open.Remaining))
            {
                throw PermitTimeout(open);
            }
            LogWait(started);
        }
        open.ReservedOn = this;
    }

    private DsqlConnectTimeoutException PermitTimeout(OpenState? open)
    {
        if (open is not null)
        {
            open.Phase = DsqlConnectPhase.ConnectPermit;
            return open.TimedOut(null);
        }
        // A connection opened directly (CreateConnection().Open()): its own Timeout is the budget.
        string address = $"{_settings.HostAddress ?? Endpoint}:{_settings.Port}";
        return new DsqlConnectTimeoutException(Endpoint, address, DsqlConnectPhase.ConnectPermit, _settings.OpenBudget, 1, null);
    }

    private void LogWait(long started)
    {
        var waited = Stopwatch.GetElapsedTime(started);
        if (waited <= TimeSpan.FromMilliseconds(1)) return;
        MarkThrottled();
        Log.RateLimitWait(_logger, Endpoint, waited.TotalMilliseconds);
        RecordRateLimitWait(waited);
    }
}
