using System.Diagnostics;

namespace Dsql.Sync.Tool.Jobs;

/// <summary>
/// Renews a worker's lease on one step while the step runs (every tenth of the lease). When the step turns out to be
/// someone else's, or the lease could not be renewed for most of its length (the database unreachable), the work is
/// cancelled through <see cref="Token"/>: the worker stops before another process, which will take the step over,
/// can be sure it stopped. Chunk checkpoints make the overlap harmless if both still write for a moment.
/// </summary>
internal sealed class LeaseKeeper : IDisposable
{
    private readonly LoadJob _job;
    private readonly string _step;
    private readonly string _owner;
    private readonly CancellationTokenSource _work;
    private readonly CancellationTokenSource _done = new();
    private readonly Task _renewals;

    public LeaseKeeper(LoadJob job, string step, string owner, CancellationToken cancellationToken)
    {
        _job = job;
        _step = step;
        _owner = owner;
        _work = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _renewals = Task.Run(RenewAsync, CancellationToken.None);
    }

    /// <summary>Cancelled when the process stops or the lease is lost.</summary>
    public CancellationToken Token => _work.Token;

    /// <summary>Whether the lease was lost (as opposed to the process stopping).</summary>
    public bool Lost { get; private set; }

    /// <summary>Stops renewing (the step is finished or abandoned).</summary>
    public async Task StopAsync()
    {
        await _done.CancelAsync().ConfigureAwait(false);
        await _renewals.ConfigureAwait(false);
    }

    private async Task RenewAsync()
    {
        var interval = TimeSpan.FromMilliseconds(Math.Max(100, _job.Lease.TotalMilliseconds / 10));
        var renewed = Stopwatch.StartNew();
        while (!_done.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _done.Token).ConfigureAwait(false);
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(_done.Token);
                attempt.CancelAfter(interval * 3);
                if (!await _job.RenewAsync(_step, _owner, attempt.Token).ConfigureAwait(false))
                {
                    await LoseAsync().ConfigureAwait(false);
                    return;
                }
                renewed.Restart();
            }
            catch (OperationCanceledException) when (_done.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (renewed.Elapsed < _job.Lease * 0.7)
            {
                // Not renewed this time (a connection problem): the next round tries again while the lease lasts.
            }
            catch (Exception)
            {
                await LoseAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    private async Task LoseAsync()
    {
        Lost = true;
        await _work.CancelAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        _done.Cancel();
        _work.Dispose();
        _done.Dispose();
    }
}
