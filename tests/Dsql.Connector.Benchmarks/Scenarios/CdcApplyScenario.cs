using System.Diagnostics;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Dsql.Emulator.Backend;
using Dsql.Sync.Cdc;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// The change applier's capacity (issue 14, "Speed"): a synthetic stream of source transactions, produced as fast as
/// the applier takes them, applied into the emulator with each change as its own statement, with merged statements,
/// and with merged statements over 2, 4 and 8 lanes. Every variant runs in each round, in a rotated order, so that a
/// noisy machine weighs on all of them alike. This is the applier alone; the <c>cdc</c> scenario measures the whole
/// pipeline from a source PostgreSQL.
/// </summary>
internal static class CdcApplyScenario
{
    private const int SeedRows = 50_000;
    private const int ChangesPerTransaction = 10;

    private sealed record Variant(string Name, bool Merge, int Lanes)
    {
        public List<double> Rates { get; } = [];
        public List<double> ClientCpu { get; } = [];
        public List<double> EmulatorCpu { get; } = [];
        public List<double> PostgresCpu { get; } = [];
        public List<double> Commits { get; } = [];
    }

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        int changes = settings.Quick ? 40_000 : 200_000;
        int rounds = settings.Quick ? 2 : 3;
        var variants = new List<Variant>
        {
            new("one statement per change, 1 lane", false, 1),
            new("merged, 1 lane", true, 1),
            new("merged, 2 lanes", true, 2),
            new("merged, 4 lanes", true, 4),
            new("merged, 8 lanes", true, 8),
        };
        var result = new ScenarioResult
        {
            Id = "cdc-apply",
            Title = "Change applier capacity: merged statements and apply lanes",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"A table of the bulk scenario's 6 columns seeded with {SeedRows:#,0} rows; a synthetic stream of {changes:#,0} changes in source transactions of {ChangesPerTransaction} ") +
                "(50% full-row updates and 19.8% deletes of random seeded keys, 30% inserts of new keys, 0.2% key updates), made on the fly and handed to `DsqlChangeApplier` as fast as it takes them, " +
                "into the emulator (own process) with the default batch limits. Variants: each change its own statement (`MergeChanges = false`), merged statements with 1, 2, 4 and 8 lanes. " +
                $"{rounds} rounds; each round runs every variant on a fresh table, in an order rotated by one from the round before. Figures are the medians over rounds; CPU is per 1,000 changes.",
        };

        await using var cluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { MaxConnections = 200 });
        await using (var admin = new NpgsqlConnection(cluster.ConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE ROLE lab_emulator SUPERUSER LOGIN", admin);
            await create.ExecuteNonQueryAsync();
        }
        string port = cluster.Port.ToString(CultureInfo.InvariantCulture);
        await using var lab = await LabEndpoint.StartAsync([.. LabEndpoint.Unlimited, "--backend", $"Host={cluster.SocketDirectory};Port={port};Database=postgres;Username=lab_emulator"]);
        await using var connector = lab.Connector("Maximum Pool Size=16");
        int postmaster = BulkScenario.Postmaster(cluster);

        settings.Log("cdc-apply: warm-up");
        foreach (var variant in variants) await ApplyAsync(connector, variant, 5_000, "warm");

        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < variants.Count; i++)
            {
                var variant = variants[(i + round) % variants.Count];
                settings.Log($"cdc-apply: round {round + 1}: {variant.Name}");
                using var self = Process.GetCurrentProcess();
                using var emulator = Process.GetProcessById(lab.ProcessId);
                var (clientBefore, emulatorBefore, postgresBefore) = (self.TotalProcessorTime, emulator.TotalProcessorTime, BulkScenario.PostgresCpu(postmaster));
                var (elapsed, commits) = await ApplyAsync(connector, variant, changes, $"r{round}");
                self.Refresh();
                emulator.Refresh();
                variant.Rates.Add(changes / elapsed.TotalSeconds);
                variant.Commits.Add(commits);
                variant.ClientCpu.Add((self.TotalProcessorTime - clientBefore).TotalMilliseconds * 1000 / changes);
                variant.EmulatorCpu.Add((emulator.TotalProcessorTime - emulatorBefore).TotalMilliseconds * 1000 / changes);
                variant.PostgresCpu.Add((BulkScenario.PostgresCpu(postmaster) - postgresBefore).TotalMilliseconds * 1000 / changes);
            }
        }

        var baseline = variants[0];
        foreach (var variant in variants.Skip(1))
            result.Comparisons.Add(Comparison.Informative($"changes/s applied, {variant.Name} against one statement per change", baseline.Name, Stats.Median(baseline.Rates), variant.Name, Stats.Median(variant.Rates), "changes/s"));
        result.Details.Add(new DetailTable("Applier capacity (medians over rounds)",
            ["variant", "changes/s", "rounds (changes/s)", "DSQL commits", "client CPU ms / 1,000 changes", "emulator CPU ms / 1,000", "PostgreSQL CPU ms / 1,000"],
            variants.Select(v => (IReadOnlyList<string>)
            [
                v.Name,
                Stats.Median(v.Rates).ToString("#,0", CultureInfo.InvariantCulture),
                string.Join(" / ", v.Rates.Select(r => r.ToString("#,0", CultureInfo.InvariantCulture))),
                Stats.Median(v.Commits).ToString("#,0", CultureInfo.InvariantCulture),
                Stats.Median(v.ClientCpu).ToString("0.0", CultureInfo.InvariantCulture),
                Stats.Median(v.EmulatorCpu).ToString("0.0", CultureInfo.InvariantCulture),
                Stats.Median(v.PostgresCpu).ToString("0.0", CultureInfo.InvariantCulture),
            ]).ToList()));
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"Machine load while it ran: {File.ReadAllText("/proc/loadavg").Trim()} (1, 5, 15-minute load averages; 2 cores here)."));
        return result;
    }

    /// <summary>Applies <paramref name="changes"/> synthetic changes to a fresh seeded table; the time and the DSQL commits.</summary>
    private static async Task<(TimeSpan Elapsed, long Commits)> ApplyAsync(DsqlDataSource connector, Variant variant, int changes, string tag)
    {
        string table = $"cdc_apply_{tag}_{variant.Lanes}_{(variant.Merge ? "m" : "s")}";
        await connector.ExecuteNonQueryAsync($"DROP TABLE IF EXISTS {table}");
        await connector.ExecuteNonQueryAsync($"CREATE TABLE {table} (id bigint PRIMARY KEY, n bigint, t text, amount numeric(12,2), at timestamptz, flag boolean)");
        for (int from = 1; from <= SeedRows; from += 2_500)
        {
            await connector.ExecuteNonQueryAsync(string.Create(CultureInfo.InvariantCulture,
                $"INSERT INTO {table} SELECT g, g * 7, 'seeded row ' || g || ' with some forty bytes', g % 10000 / 100.0, now(), g % 2 = 0 FROM generate_series({from}, {from + 2_499}) g"));
        }
        string pipeline = "lab-" + table;
        var applier = new DsqlChangeApplier(connector, new DsqlChangeApplierOptions { PipelineId = pipeline, Lanes = variant.Lanes, MergeChanges = variant.Merge });
        await applier.EnsureCreatedAsync();
        await connector.ExecuteNonQueryAsync($"DELETE FROM {DsqlChangeApplierOptions.DefaultPositionTable} WHERE pipeline_id = '{pipeline}' OR pipeline_id LIKE '{pipeline}#%'");
        long commits = 0;
        var shape = new ChangeTable("public", table,
        [
            new("id", "bigint", true), new("n", "bigint", false), new("t", "text", false),
            new("amount", "numeric(12,2)", false), new("at", "timestamp with time zone", false), new("flag", "boolean", false),
        ]);
        var started = Stopwatch.GetTimestamp();
        await applier.ApplyAsync(Stream(shape, changes), progress: new SynchronousProgress(p => commits = p.Transactions));
        return (Stopwatch.GetElapsedTime(started), commits);
    }

    private sealed class SynchronousProgress(Action<ChangeApplyProgress> report) : IProgress<ChangeApplyProgress>
    {
        public void Report(ChangeApplyProgress value) => report(value);
    }

#pragma warning disable CS1998 // a synchronous producer: the applier's reading is what is measured
    private static async IAsyncEnumerable<SourceTransaction> Stream(ChangeTable shape, int changes)
#pragma warning restore CS1998
    {
        var random = new Random(14);
        long nextKey = SeedRows + 1;
        ulong lsn = 1_000;
        string now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss.ffffffzzz", CultureInfo.InvariantCulture);
        for (int made = 0; made < changes;)
        {
            var batch = new List<RowChange>(ChangesPerTransaction);
            for (int c = 0; c < ChangesPerTransaction && made < changes; c++, made++)
            {
                int dice = random.Next(1_000);
                long key = random.NextInt64(1, SeedRows + 1);
                if (dice < 300) batch.Add(new RowChange(ChangeKind.Insert, shape, Row(nextKey++, made, now), null));
                else if (dice < 800) batch.Add(new RowChange(ChangeKind.Update, shape, Row(key, made, now), null));
                else if (dice < 998) batch.Add(new RowChange(ChangeKind.Delete, shape, null, [new ChangeValue(key.ToString(CultureInfo.InvariantCulture))]));
                else batch.Add(new RowChange(ChangeKind.Update, shape, Row(nextKey++, made, now), [new ChangeValue(key.ToString(CultureInfo.InvariantCulture))]));
            }
            lsn += 100;
            yield return new SourceTransaction(lsn, DateTimeOffset.UtcNow, (uint)(lsn / 100), batch);
        }
    }

    private static ChangeValue[] Row(long key, int n, string now)
    {
        string k = key.ToString(CultureInfo.InvariantCulture);
        return
        [
            new(k), new((key * 7 + n).ToString(CultureInfo.InvariantCulture)), new($"changed row {k} at change {n.ToString(CultureInfo.InvariantCulture)}, padded"),
            new((n % 100_000 / 100.0).ToString("0.00", CultureInfo.InvariantCulture)), new(now), new((n % 2 == 0) ? "t" : "f"),
        ];
    }
}
