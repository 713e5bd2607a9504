using System.Diagnostics;
using System.Globalization;
using System.Text;
using Dsql.Connector.Benchmarks.Lab;
using Dsql.Emulator.Backend;
using Dsql.Sync.Bulk;
using Npgsql;
using NpgsqlTypes;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// Bulk loading (issue 13, "Speed and memory"): rows of the six columns written into the emulator by
/// <see cref="DsqlBulkWriter"/> (binary COPY per chunk, and the default multi-row INSERT), against raw binary COPY of
/// the same rows straight into the PostgreSQL behind the emulator (the physical limit here) and against a loader-style
/// baseline (plain Npgsql through the emulator, 2,000-row multi-row INSERTs, each its own transaction, as AWS's
/// loader works), at parallelism 1, 2, 4 and 8. Then the writer runs in a child process at two row counts and the
/// child's peak working set is compared: it must not grow with the number of rows.
/// </summary>
internal static class BulkScenario
{
    /// <summary>The hidden first argument that makes the lab a writer child (see <see cref="ChildAsync"/>).</summary>
    public const string ChildArgument = "--bulk-child";

    public const double CopyShareTarget = 0.50;
    public const double MemoryRatioTarget = 1.25;
    public const int LoaderBatchRows = 2_000;
    private static readonly int[] Parallelisms = [1, 2, 4, 8];

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        int rows = settings.Quick ? 300_000 : 1_000_000;
        (int small, int large) = settings.Quick ? (50_000, 200_000) : (100_000, 1_000_000);
        var result = new ScenarioResult
        {
            Id = "bulk",
            Title = "Bulk loading: DsqlBulkWriter against raw COPY and a loader-style baseline",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"{rows:#,0} rows of the issue's 6 columns (int key, bigint, 41-byte text, numeric(12,2), timestamptz, bool), made one at a time by a streaming `IAsyncEnumerable` (never materialized), ") +
                "into a table with the key as its only index, recreated (DROP, CREATE through the emulator) before every run and counted after it. Variants, each at parallelism 1, 2, 4 and 8: " +
                "`DsqlBulkWriter` through the connector and the emulator (own process) with `WireFormat = BinaryCopy` and with the default `MultiRowInsert` (3,000-row chunks, each an OCC-retried transaction; the input is one stream); " +
                "raw binary COPY straight into the PostgreSQL behind the emulator (Unix socket, a database of its own so that none of the emulator's bookkeeping triggers run: no emulator, no chunks, no transaction limits; " +
                "one COPY per connection over its share of the rows, each connection generating its own share); " +
                $"a loader-style baseline: bare Npgsql through the emulator, {LoaderBatchRows:#,0}-row multi-row INSERTs with bind parameters, each its own transaction (autocommit), one stream of batches per connection. " +
                string.Create(CultureInfo.InvariantCulture, $"Memory: the BinaryCopy writer (parallelism 4) runs in a child process (the lab re-invoked) at {small:#,0} and at {large:#,0} rows; its peak working set (VmHWM) is read before it exits."),
        };

        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { MaxConnections = 200 });
        // The emulator host attaches to this cluster as a superuser of its own that logs in on the Unix socket
        // without a password (the cluster's rule for roles other than postgres), so no password goes on a command line.
        await using (var admin = new NpgsqlConnection(cluster.ConnectionString))
        {
            await admin.OpenAsync();
            await Execute(admin, "CREATE ROLE lab_emulator SUPERUSER LOGIN");
            await Execute(admin, "CREATE DATABASE lab_raw");
        }
        string port = cluster.Port.ToString(CultureInfo.InvariantCulture);
        await using var lab = await LabEndpoint.StartAsync([.. LabEndpoint.Unlimited, "--backend", $"Host={cluster.SocketDirectory};Port={port};Database=postgres;Username=lab_emulator"]);
        await using var connector = lab.Connector("Maximum Pool Size=16");
        await using var bare = lab.Bare("Maximum Pool Size=16");
        var rawBuilder = new NpgsqlConnectionStringBuilder(cluster.ConnectionString) { Database = "lab_raw", MaxPoolSize = 16 };
        await using var raw = NpgsqlDataSource.Create(rawBuilder.ConnectionString);

        // Warm-up: the JIT and the pools, on a small load of each kind.
        settings.Log("bulk: warm-up");
        await RecreateAsync(connector, raw);
        await RawCopyAsync(raw, 20_000, 2);
        await RecreateAsync(connector, raw);
        await WriterAsync(connector, 20_000, 2, BulkWireFormat.BinaryCopy);
        await RecreateAsync(connector, raw);
        await WriterAsync(connector, 20_000, 2, BulkWireFormat.MultiRowInsert);
        await RecreateAsync(connector, raw);
        await LoaderAsync(bare, 20_000, 2);

        int postmaster = ProcessStats.Postmaster(cluster);
        var runs = new List<Run>();
        foreach (int p in Parallelisms)
        {
            var run = new Run(p);
            settings.Log($"bulk: parallelism {p}: raw COPY");
            run.RawRun = await TimedAsync(lab, postmaster, connector, raw, rows, raw, () => RawCopyAsync(raw, rows, p));
            settings.Log($"bulk: parallelism {p}: writer, BinaryCopy");
            run.CopyRun = await TimedAsync(lab, postmaster, connector, raw, rows, connector, async () => run.CopyProgress = await WriterAsync(connector, rows, p, BulkWireFormat.BinaryCopy));
            settings.Log($"bulk: parallelism {p}: writer, MultiRowInsert");
            run.InsertRun = await TimedAsync(lab, postmaster, connector, raw, rows, connector, async () => run.InsertProgress = await WriterAsync(connector, rows, p, BulkWireFormat.MultiRowInsert));
            settings.Log($"bulk: parallelism {p}: loader-style baseline");
            run.LoaderRun = await TimedAsync(lab, postmaster, connector, raw, rows, connector, () => LoaderAsync(bare, rows, p));
            settings.Log(string.Create(CultureInfo.InvariantCulture, $"bulk: parallelism {p}: raw {run.Raw:0} / copy {run.Copy:0} / insert {run.Insert:0} / loader {run.Loader:0} rows/s"));
            runs.Add(run);
        }

        foreach (var run in runs)
        {
            string at = $"parallelism {run.Parallelism}";
            result.Comparisons.Add(Comparison.Checked($"rows/s, BinaryCopy writer against raw COPY, {at}", "raw COPY", run.Raw, "writer", run.Copy, "rows/s",
                $">= {CopyShareTarget:0.00} of raw COPY", run.Copy >= CopyShareTarget * run.Raw));
        }
        foreach (var run in runs)
        {
            string at = $"parallelism {run.Parallelism}";
            result.Comparisons.Add(Comparison.Checked($"rows/s, BinaryCopy writer against the loader-style baseline, {at}", "loader", run.Loader, "writer", run.Copy, "rows/s",
                "faster (ratio > 1)", run.Copy > run.Loader));
        }
        foreach (var run in runs)
        {
            string at = $"parallelism {run.Parallelism}";
            result.Comparisons.Add(Comparison.Checked($"rows/s, MultiRowInsert writer against the loader-style baseline, {at}", "loader", run.Loader, "writer", run.Insert, "rows/s",
                "faster (ratio > 1)", run.Insert > run.Loader));
        }

        settings.Log($"bulk: peak working set of a writer child at {small:#,0} rows");
        await RecreateAsync(connector, raw);
        var smallChild = await ChildRunAsync(lab, small, 4, BulkWireFormat.BinaryCopy);
        await VerifyCountAsync(null, connector, small);
        settings.Log($"bulk: peak working set of a writer child at {large:#,0} rows");
        await RecreateAsync(connector, raw);
        var largeChild = await ChildRunAsync(lab, large, 4, BulkWireFormat.BinaryCopy);
        await VerifyCountAsync(null, connector, large);
        double memoryRatio = (double)largeChild.PeakBytes / smallChild.PeakBytes;
        result.Comparisons.Add(Comparison.Checked(
            string.Create(CultureInfo.InvariantCulture, $"peak working set of the writer's process (BinaryCopy, parallelism 4), {small:#,0} against {large:#,0} rows"),
            string.Create(CultureInfo.InvariantCulture, $"{small:#,0} rows"), smallChild.PeakBytes / 1048576.0,
            string.Create(CultureInfo.InvariantCulture, $"{large:#,0} rows"), largeChild.PeakBytes / 1048576.0, "MiB",
            $"ratio about 1 (<= {MemoryRatioTarget:0.00})", memoryRatio <= MemoryRatioTarget));

        result.Details.Add(new DetailTable("Scaling with parallelism (rows/s; writer chunk latency p50 / p99 in brackets)",
            ["parallelism", "raw COPY into PostgreSQL", "writer, BinaryCopy", "BinaryCopy / raw", "writer, MultiRowInsert", "loader-style baseline", "BinaryCopy / loader"],
            runs.Select(r => (IReadOnlyList<string>)
            [
                r.Parallelism.ToString(CultureInfo.InvariantCulture),
                Rate(r.Raw),
                Rate(r.Copy) + Latency(r.CopyProgress),
                Ratio(r.Copy / r.Raw),
                Rate(r.Insert) + Latency(r.InsertProgress),
                Rate(r.Loader),
                Ratio(r.Copy / r.Loader),
            ]).ToArray()));
        result.Details.Add(new DetailTable("CPU time per 1,000 rows: the lab's process (the client) / the emulator's process / PostgreSQL's processes",
            ["parallelism", "raw COPY", "writer, BinaryCopy", "writer, MultiRowInsert", "loader-style baseline"],
            runs.Select(r => (IReadOnlyList<string>)
            [
                r.Parallelism.ToString(CultureInfo.InvariantCulture),
                Cpu(r.RawRun), Cpu(r.CopyRun), Cpu(r.InsertRun), Cpu(r.LoaderRun),
            ]).ToArray()));
        result.Details.Add(new DetailTable("Writer child processes (BinaryCopy, parallelism 4)",
            ["rows", "rows/s", "peak working set (VmHWM)", "managed heap at the end", "GC collections (gen0 / gen1 / gen2)"],
            [Child(small, smallChild), Child(large, largeChild)]));
        result.Notes.Add("Every run's table is counted afterwards (the count must equal the rows written); the emulator enforces DSQL's 3,000 rows and 10 MiB per transaction on the writer and the loader alike.");
        result.Notes.Add("The writer reads one input stream (one producer cutting chunks for its connections); raw COPY and the loader generate each connection's rows on that connection's task, so their row generation runs in parallel.");
        return result;
    }

    private static string Rate(double rowsPerSecond) => rowsPerSecond.ToString("#,0", CultureInfo.InvariantCulture);

    private static string Cpu(Measured m)
        => string.Create(CultureInfo.InvariantCulture, $"{m.ClientCpuMs:0.0} / {m.EmulatorCpuMs:0.0} / {m.PostgresCpuMs:0.0} ms");

    private static string Ratio(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Latency(BulkProgress? progress) => progress is null
        ? ""
        : string.Create(CultureInfo.InvariantCulture, $" ({progress.ChunkLatencyP50.TotalMilliseconds:0} / {progress.ChunkLatencyP99.TotalMilliseconds:0} ms)");

    private static IReadOnlyList<string> Child(int rows, ChildOutcome child) =>
    [
        rows.ToString("#,0", CultureInfo.InvariantCulture),
        Rate(child.RowsPerSecond),
        (child.PeakBytes / 1048576.0).ToString("#,0.0", CultureInfo.InvariantCulture) + " MiB",
        (child.HeapBytes / 1048576.0).ToString("#,0.0", CultureInfo.InvariantCulture) + " MiB",
        child.Collections,
    ];

    private sealed class Run(int parallelism)
    {
        public int Parallelism { get; } = parallelism;
        public Measured RawRun { get; set; }
        public Measured CopyRun { get; set; }
        public Measured InsertRun { get; set; }
        public Measured LoaderRun { get; set; }
        public double Raw => RawRun.RowsPerSecond;
        public double Copy => CopyRun.RowsPerSecond;
        public double Insert => InsertRun.RowsPerSecond;
        public double Loader => LoaderRun.RowsPerSecond;
        public BulkProgress? CopyProgress { get; set; }
        public BulkProgress? InsertProgress { get; set; }
    }

    /// <summary>What one load measured: rows per second, and CPU time per 1,000 rows of the lab's process, the emulator's and PostgreSQL's.</summary>
    private readonly record struct Measured(double RowsPerSecond, double ClientCpuMs, double EmulatorCpuMs, double PostgresCpuMs);

    /// <summary>CPU time used so far by a PostgreSQL cluster (see <see cref="ProcessStats.ClusterCpu"/>).</summary>
    internal static TimeSpan PostgresCpu(int postmaster) => ProcessStats.ClusterCpu(postmaster);

    internal static int Postmaster(PostgresCluster cluster) => ProcessStats.Postmaster(cluster);

    /// <summary>Recreates the target tables, runs <paramref name="load"/>, counts the rows where they were written.</summary>
    private static async Task<Measured> TimedAsync(LabEndpoint lab, int postmaster, DsqlDataSource connector, NpgsqlDataSource raw, int rows, object target, Func<Task> load)
    {
        await RecreateAsync(connector, raw);
        using var self = Process.GetCurrentProcess();
        using var emulator = Process.GetProcessById(lab.ProcessId);
        var clientBefore = self.TotalProcessorTime;
        var emulatorBefore = emulator.TotalProcessorTime;
        var postgresBefore = ProcessStats.ClusterCpu(postmaster);
        var clock = Stopwatch.StartNew();
        await load();
        double seconds = clock.Elapsed.TotalSeconds;
        self.Refresh();
        emulator.Refresh();
        double perThousand = 1000.0 / rows;
        var measured = new Measured(rows / seconds,
            (self.TotalProcessorTime - clientBefore).TotalMilliseconds * perThousand,
            (emulator.TotalProcessorTime - emulatorBefore).TotalMilliseconds * perThousand,
            (ProcessStats.ClusterCpu(postmaster) - postgresBefore).TotalMilliseconds * perThousand);
        await VerifyCountAsync(ReferenceEquals(target, raw) ? raw : null, connector, rows);
        return measured;
    }

    private static async Task VerifyCountAsync(NpgsqlDataSource? raw, DsqlDataSource connector, long expected)
    {
        long count;
        if (raw is not null)
        {
            await using var command = raw.CreateCommand("SELECT count(*) FROM lab_bulk");
            count = (long)(await command.ExecuteScalarAsync())!;
        }
        else
        {
            await using var connection = await connector.OpenConnectionAsync();
            await using var command = new NpgsqlCommand("SELECT count(*) FROM lab_bulk", connection);
            count = (long)(await command.ExecuteScalarAsync())!;
        }
        if (count != expected) throw new InvalidOperationException($"The load wrote {count:#,0} rows where {expected:#,0} were expected.");
    }

    /// <summary>Drops and creates the table through the emulator (one DDL statement per transaction) and in the raw database.</summary>
    private static async Task RecreateAsync(DsqlDataSource connector, NpgsqlDataSource raw)
    {
        await using (var connection = await connector.OpenConnectionAsync())
        {
            await Execute(connection, "DROP TABLE IF EXISTS lab_bulk");
            await Execute(connection, BulkRows.CreateTable);
        }
        await using (var connection = await raw.OpenConnectionAsync())
        {
            await Execute(connection, "DROP TABLE IF EXISTS lab_bulk");
            await Execute(connection, BulkRows.CreateTable);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The rows of connection <paramref name="index"/> of <paramref name="parallelism"/>: a contiguous share.</summary>
    private static (int First, int Count) Share(int rows, int parallelism, int index)
    {
        int first = (int)((long)rows * index / parallelism);
        int end = (int)((long)rows * (index + 1) / parallelism);
        return (first, end - first);
    }

    /// <summary>The physical limit: one binary COPY per connection over its share, straight into PostgreSQL.</summary>
    private static Task RawCopyAsync(NpgsqlDataSource raw, int rows, int parallelism)
        => Task.WhenAll(Enumerable.Range(0, parallelism).Select(k => Task.Run(async () =>
        {
            var (first, count) = Share(rows, parallelism, k);
            await using var connection = await raw.OpenConnectionAsync();
            await using var importer = await connection.BeginBinaryImportAsync(BulkRows.CopySql);
            await foreach (var row in BulkRows.GenerateAsync(first, count))
            {
                await importer.StartRowAsync();
                await importer.WriteAsync(row.Id, NpgsqlDbType.Integer);
                await importer.WriteAsync(row.Big, NpgsqlDbType.Bigint);
                await importer.WriteAsync(row.Text, NpgsqlDbType.Text);
                await importer.WriteAsync(row.Amount, NpgsqlDbType.Numeric);
                await importer.WriteAsync(row.At, NpgsqlDbType.TimestampTz);
                await importer.WriteAsync(row.Flag, NpgsqlDbType.Boolean);
            }
            await importer.CompleteAsync();
        })));

    private static Task<BulkProgress> WriterAsync(DsqlDataSource connector, int rows, int parallelism, BulkWireFormat format)
    {
        var writer = new DsqlBulkWriter(connector, new DsqlBulkWriterOptions { Table = BulkRows.Table, Parallelism = parallelism, WireFormat = format });
        return writer.WriteAsync(BulkRows.GenerateAsync(0, rows), BulkRows.Map);
    }

    /// <summary>
    /// The loader-style baseline: each connection sends its share as multi-row INSERTs of <see cref="LoaderBatchRows"/>
    /// rows with bind parameters, each statement its own transaction (autocommit), one batch in flight per connection.
    /// </summary>
    private static Task LoaderAsync(NpgsqlDataSource bare, int rows, int parallelism)
        => Task.WhenAll(Enumerable.Range(0, parallelism).Select(k => Task.Run(async () =>
        {
            var (first, count) = Share(rows, parallelism, k);
            var batch = new List<BulkRows.Row>(LoaderBatchRows);
            await using var connection = await bare.OpenConnectionAsync();
            await foreach (var row in BulkRows.GenerateAsync(first, count))
            {
                batch.Add(row);
                if (batch.Count == LoaderBatchRows)
                {
                    await InsertBatchAsync(connection, batch);
                    batch.Clear();
                }
            }
            if (batch.Count > 0) await InsertBatchAsync(connection, batch);
        })));

    private static async Task InsertBatchAsync(NpgsqlConnection connection, List<BulkRows.Row> batch)
    {
        var sql = new StringBuilder("INSERT INTO lab_bulk (").Append(BulkRows.ColumnList).Append(") VALUES ");
        await using var command = new NpgsqlCommand { Connection = connection };
        int p = 0;
        for (int r = 0; r < batch.Count; r++)
        {
            if (r > 0) sql.Append(',');
            sql.Append(CultureInfo.InvariantCulture, $"(${p + 1},${p + 2},${p + 3},${p + 4},${p + 5},${p + 6})");
            p += 6;
            var row = batch[r];
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = row.Id });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = row.Big });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = row.Text });
            command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = row.Amount });
            command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = row.At });
            command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = row.Flag });
        }
        command.CommandText = sql.ToString();
        await command.ExecuteNonQueryAsync();
    }

    // ---- the writer in a child process, for its peak working set

    private sealed record ChildOutcome(double RowsPerSecond, long PeakBytes, long HeapBytes, string Collections);

    /// <summary>
    /// Runs the lab again as a writer child (<see cref="ChildArgument"/>), waits for its "done" line, reads its peak
    /// working set from /proc/&lt;pid&gt;/status (VmHWM) while it still lives, then lets it exit.
    /// </summary>
    private static async Task<ChildOutcome> ChildRunAsync(LabEndpoint lab, int rows, int parallelism, BulkWireFormat format)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("The lab's executable path is unknown.");
        var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(BulkScenario).Assembly.Location);
        foreach (string argument in (string[])[ChildArgument, lab.ConnectorConnectionString(), rows.ToString(CultureInfo.InvariantCulture), parallelism.ToString(CultureInfo.InvariantCulture), format.ToString()])
            start.ArgumentList.Add(argument);
        using var child = Process.Start(start) ?? throw new InvalidOperationException("Could not start the writer child.");
        var errors = child.StandardError.ReadToEndAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
            string? line = await child.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null || !line.StartsWith("done ", StringComparison.Ordinal))
            {
                await child.WaitForExitAsync(timeout.Token);
                throw new InvalidOperationException($"The writer child ended without a result (exit {child.ExitCode}): {await errors}");
            }
            long peak = PeakWorkingSet(child.Id);
            string[] parts = line.Split(' ');
            await child.StandardInput.WriteLineAsync("exit");
            child.StandardInput.Close();
            await child.WaitForExitAsync(timeout.Token);
            return new ChildOutcome(
                double.Parse(parts[1], CultureInfo.InvariantCulture),
                peak,
                long.Parse(parts[2], CultureInfo.InvariantCulture),
                parts[3]);
        }
        finally
        {
            if (!child.HasExited) child.Kill();
        }
    }

    /// <summary>VmHWM of a living process, in bytes (Linux); otherwise its <see cref="Process.PeakWorkingSet64"/>.</summary>
    private static long PeakWorkingSet(int processId)
    {
        string status = $"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/status";
        if (File.Exists(status))
        {
            foreach (string line in File.ReadLines(status))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                string kb = line["VmHWM:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }
        using var process = Process.GetProcessById(processId);
        return process.PeakWorkingSet64;
    }

    /// <summary>
    /// The child: writes <c>rows</c> rows with the writer into the emulator named by the connector connection string,
    /// prints <c>done rows/s heap-bytes g0/g1/g2</c>, then waits for its standard input to close so that the parent
    /// can read its peak working set while it lives. Arguments: connection string, rows, parallelism, wire format.
    /// </summary>
    public static async Task<int> ChildAsync(IReadOnlyList<string> args)
    {
        if (args.Count != 4) throw new ArgumentException($"{ChildArgument} needs: connection string, rows, parallelism, wire format.");
        int rows = int.Parse(args[1], CultureInfo.InvariantCulture);
        int parallelism = int.Parse(args[2], CultureInfo.InvariantCulture);
        var format = Enum.Parse<BulkWireFormat>(args[3]);
        await using var connector = new DsqlDataSourceBuilder(args[0] + ";Maximum Pool Size=16").UseCredentials(LabEndpoint.Credentials).Build();
        var clock = Stopwatch.StartNew();
        await WriterAsync(connector, rows, parallelism, format);
        double rate = rows / clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"done {rate:0} {GC.GetTotalMemory(forceFullCollection: false)} {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}"));
        await Console.Out.FlushAsync();
        await Console.In.ReadToEndAsync();
        return 0;
    }
}
