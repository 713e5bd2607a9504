using System.Collections.Concurrent;
using System.Diagnostics;
using Dsql.Emulator.Tests.Infrastructure;
using Npgsql;

namespace Dsql.Emulator.Tests;

/// <summary>
/// A crashed backend process loses no acknowledged commit. Runs on a cluster of its own: killing a backend process
/// makes PostgreSQL restart every session of that cluster.
/// </summary>
public sealed class BackendDurabilityTests
{
    private const int Writers = 6;
    private const int CommitsBeforeTheCrash = 3_000;

    [Fact]
    public async Task Killing_a_backend_process_under_committing_load_loses_no_acknowledged_commit()
    {
        await using var emulator = await DsqlEmulator.StartAsync();
        var cluster = emulator.Cluster!;
        await using (var admin = await EmulatorConnections.OpenAsync(emulator))
            await new NpgsqlCommand("CREATE TABLE durable (id bigint PRIMARY KEY, writer int NOT NULL)", admin).ExecuteNonQueryAsync();

        var acknowledged = new ConcurrentBag<long>();
        int committed = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            await using var connection = await EmulatorConnections.OpenAsync(emulator, extra: "Application Name=durability_writer");
            await using var insert = new NpgsqlCommand("INSERT INTO durable (id, writer) VALUES ($1, $2)", connection);
            var id = new NpgsqlParameter<long>();
            insert.Parameters.Add(id);
            insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = w });
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                id.TypedValue = (long)w * 1_000_000_000 + i;
                try
                {
                    await insert.ExecuteNonQueryAsync();
                }
                catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException)
                {
                    return; // the crash ended this session; the commit in flight is of unknown outcome
                }
                acknowledged.Add(id.TypedValue);
                Interlocked.Increment(ref committed);
            }
        })).ToList();

        while (Volatile.Read(ref committed) < CommitsBeforeTheCrash && writers.All(t => !t.IsCompleted))
            await Task.Delay(10, stop.Token);
        Assert.True(writers.All(t => !t.IsCompleted), "a writer stopped before the crash: " + string.Join("; ", writers.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!.Message)));

        int victim;
        await using (var direct = new NpgsqlConnection(cluster.ConnectionString + ";Pooling=false"))
        {
            await direct.OpenAsync();
            victim = (int)(await new NpgsqlCommand(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'durability_writer' ORDER BY pid LIMIT 1", direct).ExecuteScalarAsync())!;
        }
        using (var process = Process.GetProcessById(victim)) process.Kill(); // SIGKILL: the postmaster restarts every backend

        await Task.WhenAll(writers);
        int acknowledgedBeforeCheck = acknowledged.Count;
        Assert.True(acknowledgedBeforeCheck >= CommitsBeforeTheCrash, $"only {acknowledgedBeforeCheck} commits were acknowledged");

        var present = new HashSet<long>();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var direct = new NpgsqlConnection(cluster.ConnectionString + ";Pooling=false");
                await direct.OpenAsync();
                await using var reader = await new NpgsqlCommand("SELECT id FROM durable", direct).ExecuteReaderAsync();
                while (await reader.ReadAsync()) present.Add(reader.GetInt64(0));
                break;
            }
            catch (NpgsqlException) when (deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(200); // crash recovery in progress
            }
        }

        var lost = acknowledged.Where(id => !present.Contains(id)).OrderBy(id => id).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledgedBeforeCheck} acknowledged commits are missing after the crash, e.g. {string.Join(", ", lost.Take(10))}");

        // The emulator serves again once PostgreSQL has recovered, caps included.
        await using var after = await EmulatorConnections.OpenAsync(emulator);
        Assert.Equal(1, await new NpgsqlCommand("INSERT INTO durable (id, writer) VALUES (-1, -1)", after).ExecuteNonQueryAsync());
        var capped = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("INSERT INTO durable SELECT -g - 1, -1 FROM generate_series(1, 3001) g", after).ExecuteNonQueryAsync());
        Assert.Equal("54000", capped.SqlState);
    }
}
