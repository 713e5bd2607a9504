using System.Diagnostics;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// The change-replication scenario's write load on the source: an open-loop schedule of small transactions (each
/// <see cref="ChangesPerTransaction"/> changes: about half updates, 30% inserts, 20% deletes, 2% key updates, of
/// random live keys) spread over several connections. Each connection owns the keys of one residue class, so no two
/// connections touch the same row (no lock waits, no deadlocks) and every update and delete finds its row: every
/// statement changes exactly one row, and the rows each transaction reports changed are counted.
/// </summary>
internal sealed class CdcWriteGenerator
{
    public const int ChangesPerTransaction = 10;

    /// <summary>Keys of inserted rows start here, above the seeded rows.</summary>
    private const int FirstNewKey = 1_000_000;

    private const string UpdateSql = "UPDATE lab_cdc SET b = b + 1, t = $2, n = $3, ts = $4 WHERE id = $1";
    private const string InsertSql = "INSERT INTO lab_cdc (id, b, t, n, ts, f) VALUES ($1, $2, $3, $4, $5, $6)";
    private const string DeleteSql = "DELETE FROM lab_cdc WHERE id = $1";
    private const string KeyUpdateSql = "UPDATE lab_cdc SET id = $2 WHERE id = $1";

    private readonly NpgsqlDataSource _source;
    private readonly Worker[] _workers;
    private long _committedChanges;
    private long _committedTransactions;
    private long _failedTransactions;
    private string? _lastError;

    public CdcWriteGenerator(NpgsqlDataSource source, int connections, int seededRows)
    {
        _source = source;
        _workers = Enumerable.Range(0, connections).Select(c => new Worker(c, connections, seededRows)).ToArray();
    }

    public int Connections => _workers.Length;

    /// <summary>Rows changed by committed transactions so far (what the source's log holds for the replication).</summary>
    public long CommittedChanges => Interlocked.Read(ref _committedChanges);

    public long CommittedTransactions => Interlocked.Read(ref _committedTransactions);

    public long FailedTransactions => Interlocked.Read(ref _failedTransactions);

    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>
    /// Offers <paramref name="changesPerSecond"/> for <paramref name="duration"/>: transaction k is due at
    /// k x <see cref="ChangesPerTransaction"/> / rate seconds after the start, whatever the earlier ones took (open
    /// loop), and starts on the next free connection. A transaction that could not start before the phase ended is not
    /// sent: the result then says how far the generator fell behind its schedule.
    /// </summary>
    public async Task<GeneratorPhase> RunAsync(double changesPerSecond, TimeSpan duration, CancellationToken cancellationToken)
    {
        double interval = ChangesPerTransaction / changesPerSecond;
        long due = (long)Math.Floor(duration.TotalSeconds / interval);
        long next = -1, started = 0, lateTicks = 0;
        long changesBefore = CommittedChanges, transactionsBefore = CommittedTransactions;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(_workers.Select(worker => Task.Run(async () =>
        {
            await using var connection = await _source.OpenConnectionAsync(cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                long k = Interlocked.Increment(ref next);
                if (k >= due) break;
                double at = k * interval;
                double wait = at - clock.Elapsed.TotalSeconds;
                if (wait > 0.001) await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken);
                else if (clock.Elapsed >= duration) break; // behind schedule at the end of the phase: not sent
                else Interlocked.Add(ref lateTicks, (long)(-wait * 1_000_000));
                Interlocked.Increment(ref started);
                await worker.RunTransactionAsync(connection, this);
            }
        }, CancellationToken.None)));
        return new GeneratorPhase(
            changesPerSecond,
            clock.Elapsed,
            due * ChangesPerTransaction,
            CommittedChanges - changesBefore,
            CommittedTransactions - transactionsBefore,
            due - Interlocked.Read(ref started),
            started == 0 ? 0 : Interlocked.Read(ref lateTicks) / 1000.0 / started);
    }

    private void Committed(int changes)
    {
        Interlocked.Add(ref _committedChanges, changes);
        Interlocked.Increment(ref _committedTransactions);
    }

    private void Failed(Exception error)
    {
        Interlocked.Increment(ref _failedTransactions);
        Volatile.Write(ref _lastError, error.GetType().Name + ": " + error.Message);
    }

    /// <summary>One connection's share: the live keys of its residue class and its own random numbers.</summary>
    private sealed class Worker(int index, int connections, int seededRows)
    {
        private readonly List<int> _keys = Enumerable.Range(1, seededRows).Where(id => id % connections == index).ToList();
        private readonly Random _random = new(20261128 + index);
        private long _nextNew;
        private long _sequence;

        public async Task RunTransactionAsync(NpgsqlConnection connection, CdcWriteGenerator owner)
        {
            // The key list is changed as the batch is planned. A transaction that fails (none should) leaves it a few
            // keys off what the source holds; every change is counted by the rows the source reports changed anyway.
            var keys = _keys;
            await using var batch = new NpgsqlBatch(connection);
            for (int i = 0; i < ChangesPerTransaction; i++)
            {
                double pick = _random.NextDouble();
                if (keys.Count == 0 || (pick >= 0.50 && pick < 0.80))
                {
                    int id = NewKey();
                    keys.Add(id);
                    batch.BatchCommands.Add(Command(InsertSql, Int(id), Big(id * 7_919L), Text(Note(id)), Amount(id), Time(), Bool((id & 1) == 0)));
                }
                else if (pick < 0.02)
                {
                    int slot = _random.Next(keys.Count), id = NewKey();
                    batch.BatchCommands.Add(Command(KeyUpdateSql, Int(keys[slot]), Int(id)));
                    keys[slot] = id;
                }
                else if (pick < 0.50)
                {
                    int id = keys[_random.Next(keys.Count)];
                    batch.BatchCommands.Add(Command(UpdateSql, Int(id), Text(Note(id)), Amount(id + (int)(_sequence & 1023)), Time()));
                }
                else
                {
                    int slot = _random.Next(keys.Count);
                    batch.BatchCommands.Add(Command(DeleteSql, Int(keys[slot])));
                    keys[slot] = keys[^1];
                    keys.RemoveAt(keys.Count - 1);
                }
            }
            try
            {
                // A batch without an explicit transaction runs as one implicit transaction (one Sync at its end): one
                // round trip, one source transaction of ten changes.
                owner.Committed(await batch.ExecuteNonQueryAsync(CancellationToken.None));
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                owner.Failed(ex);
            }
        }

        private int NewKey() => checked((int)(FirstNewKey + _nextNew++ * connections + index));

        private string Note(int id) => string.Create(CultureInfo.InvariantCulture, $"cdc lab row {id:D10} change {++_sequence % 10_000_000_000:D10}");

        private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.AddRange(parameters);
            return command;
        }

        private static NpgsqlParameter Int(int value) => new NpgsqlParameter<int> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Integer };

        private static NpgsqlParameter Big(long value) => new NpgsqlParameter<long> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Bigint };

        private static NpgsqlParameter Text(string value) => new NpgsqlParameter<string> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Text };

        private static NpgsqlParameter Amount(int id) => new NpgsqlParameter<decimal> { TypedValue = (id % 1_000_000) / 100m, NpgsqlDbType = NpgsqlDbType.Numeric };

        private static NpgsqlParameter Time() => new NpgsqlParameter<DateTime> { TypedValue = DateTime.UtcNow, NpgsqlDbType = NpgsqlDbType.TimestampTz };

        private static NpgsqlParameter Bool(bool value) => new NpgsqlParameter<bool> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Boolean };
    }
}

/// <summary>
/// What the generator did in one phase: the rate offered, the changes its schedule held, the changes and transactions
/// committed, the transactions not sent because it was behind its schedule at the phase's end, and the mean lateness
/// of the transactions it started.
/// </summary>
internal sealed record GeneratorPhase(double OfferedPerSecond, TimeSpan Elapsed, long ScheduledChanges, long CommittedChanges, long CommittedTransactions,
    long NotSent, double MeanLateMilliseconds)
{
    public double CommittedPerSecond => CommittedChanges / Elapsed.TotalSeconds;
}
