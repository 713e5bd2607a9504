using System.Diagnostics;
using System.Threading.Channels;

namespace Dsql.Sync.Cdc;

public sealed partial class DsqlChangeApplier
{
    /// <summary>
    /// One apply lane: a queue of the changes of its keys, in stream order, gathered into batches that commit one after
    /// another with the lane's position row.
    /// </summary>
    private sealed class Lane
    {
        private readonly Run _run;
        private readonly Channel<Entry> _queue;
        private readonly DsqlChangeApplierOptions _options;

        public Lane(Run run, string rowId, ChangePosition stored)
        {
            _run = run;
            _options = run.Options;
            RowId = rowId;
            Position = stored;
            _queue = Channel.CreateBounded<Entry>(new BoundedChannelOptions(Math.Max(64, 2 * _options.MaxChangesPerTransaction))
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }

        /// <summary>The lane's row in the position table.</summary>
        public string RowId { get; }

        /// <summary>The position stored in the lane's row (this run's last commit there, or the one read at the start).</summary>
        public ChangePosition Position { get; set; }

        public ValueTask QueueAsync(Entry entry, CancellationToken token) => _queue.Writer.WriteAsync(entry, token);

        public bool TryQueue(Entry entry) => _queue.Writer.TryWrite(entry);

        public void Complete() => _queue.Writer.TryComplete();

        public async Task LoopAsync()
        {
            var reader = _queue.Reader;
            var batch = new List<Item>();
            var owners = new[] { this };
            int rows = 0;
            long bytes = 0, started = 0;
            var mark = Position;
            var token = _run.Token;
            try
            {
                while (true)
                {
                    if (reader.TryRead(out var entry))
                    {
                        switch (entry)
                        {
                            case Item item:
                                if (batch.Count > 0 && (rows + item.Rows > MaxRows || bytes + item.Bytes > _run.MaxBatchBytes)) await CommitAsync().ConfigureAwait(false);
                                if (batch.Count == 0) started = Stopwatch.GetTimestamp();
                                batch.Add(item);
                                rows += item.Rows;
                                bytes += item.Bytes;
                                if (batch.Count >= _options.MaxChangesPerTransaction) await CommitAsync().ConfigureAwait(false);
                                break;
                            case Mark m:
                                mark = Later(mark, m.Position);
                                break;
                            case Drain drain:
                                await CommitAsync().ConfigureAwait(false);
                                if (Later(mark, Position) != Position) await _run.ApplyItemsAsync(owners, [], mark).ConfigureAwait(false);
                                drain.Done.TrySetResult();
                                break;
                        }
                        continue;
                    }
                    if (batch.Count > 0)
                    {
                        // Nothing more queued: the batch waits for company until it is MaxBatchDelay old.
                        var wait = _options.MaxBatchDelay - Stopwatch.GetElapsedTime(started);
                        if (wait > TimeSpan.Zero && await WaitAsync(reader, wait, token).ConfigureAwait(false)) continue;
                        await CommitAsync().ConfigureAwait(false);
                        continue;
                    }
                    if (Later(mark, Position) != Position)
                    {
                        // Idle, behind the frontier: the position alone moves, so the source can be told.
                        await _run.ApplyItemsAsync(owners, [], mark).ConfigureAwait(false);
                        continue;
                    }
                    if (!await reader.WaitToReadAsync(token).ConfigureAwait(false)) return;
                }
            }
            catch (Exception ex)
            {
                _run.Fail(ex);
            }

            async Task CommitAsync()
            {
                if (batch.Count == 0) return;
                var items = batch.ToList();
                batch.Clear();
                rows = 0;
                bytes = 0;
                await _run.ApplyItemsAsync(owners, items, Later(items[^1].After, mark)).ConfigureAwait(false);
            }
        }

        private static async Task<bool> WaitAsync(ChannelReader<Entry> reader, TimeSpan wait, CancellationToken token)
        {
            var pending = reader.WaitToReadAsync(token);
            if (pending.IsCompleted) return await pending.ConfigureAwait(false);
            try
            {
                return await pending.AsTask().WaitAsync(wait, token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }
}
