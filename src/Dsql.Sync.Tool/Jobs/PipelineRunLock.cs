using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Dsql.Sync.Tool.Jobs;

/// <summary>
/// One <c>dsql-sync run</c> per pipeline: a session advisory lock at the source, keyed by the replication slot's name
/// and held on a connection of its own from before the slot is touched until the process ends. A second process finds
/// it taken and learns from <c>pg_stat_activity</c> which process holds it. The lock covers every phase, including
/// the full load, while the slot itself is not in use (a second process would otherwise take the unfinished load for
/// a dead one and start it over). A killed process's connection closes with it, and the server releases the lock.
/// </summary>
internal sealed class PipelineRunLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;

    private PipelineRunLock(NpgsqlConnection connection) => _connection = connection;

    /// <summary>
    /// The application name this process's source connections carry (at most 63 characters, PostgreSQL's limit), so
    /// that <c>pg_stat_activity</c> and <c>pg_stat_replication</c> show which process they belong to.
    /// </summary>
    public static string ApplicationName
    {
        get
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"dsql-sync run pid {Environment.ProcessId} on {Environment.MachineName}");
            return name.Length > 63 ? name[..63] : name;
        }
    }

    /// <summary>The lock's 64-bit key: the first 8 bytes of SHA-256 of the slot's name (stable across processes and versions).</summary>
    public static long Key(string slot)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("dsql-sync run " + slot), hash);
        return BitConverter.ToInt64(hash[..8]);
    }

    /// <summary>
    /// Takes the lock, waiting at most <paramref name="wait"/> (a process killed a moment ago still holds it until the
    /// server notices its connection closed); returns null and the holder's description when another process keeps it.
    /// </summary>
    public static async Task<(PipelineRunLock? Lock, string? Holder)> AcquireAsync(string connectionString, string slot, TimeSpan wait, CancellationToken cancellationToken)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = ApplicationName, Pooling = false };
        var connection = new NpgsqlConnection(settings.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            long key = Key(slot);
            var deadline = DateTime.UtcNow + wait;
            while (true)
            {
                await using (var take = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection))
                {
                    take.Parameters.Add(new NpgsqlParameter { Value = key });
                    if ((bool)(await take.ExecuteScalarAsync(cancellationToken))!)
                    {
                        var taken = new PipelineRunLock(connection);
                        connection = null;
                        return (taken, null);
                    }
                }
                if (DateTime.UtcNow >= deadline) return (null, await HolderAsync(connection, key, cancellationToken));
                await Task.Delay(200, cancellationToken);
            }
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync();
        }
    }

    /// <summary>Who holds the lock: the session's application name (a dsql-sync run names its process id and host), server process, client address and start.</summary>
    private static async Task<string> HolderAsync(NpgsqlConnection connection, long key, CancellationToken cancellationToken)
    {
        // A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits) and objsubid 1.
        await using var find = new NpgsqlCommand("""
            SELECT l.pid, a.application_name, coalesce(host(a.client_addr), 'a local socket'), to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')
            FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid::bigint = $1 AND l.objid::bigint = $2
            """, connection);
        find.Parameters.Add(new NpgsqlParameter { Value = (long)(uint)(key >> 32) });
        find.Parameters.Add(new NpgsqlParameter { Value = (long)(uint)key });
        await using var reader = await find.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return "another process (it let go just now: run again)";
        int pid = reader.GetInt32(0);
        string who = reader.IsDBNull(1) || reader.GetString(1).Length == 0 ? "another process" : reader.GetString(1);
        string from = reader.IsDBNull(2) ? "" : $", connected from {reader.GetString(2)}";
        string since = reader.IsDBNull(3) ? "" : $" since {reader.GetString(3)}";
        return string.Create(CultureInfo.InvariantCulture, $"{who} (source server process {pid}{from}{since})");
    }

    /// <summary>Releases the lock by closing its connection.</summary>
    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
