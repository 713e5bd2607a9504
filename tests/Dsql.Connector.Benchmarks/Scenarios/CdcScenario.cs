using System.Diagnostics;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Dsql.Emulator.Backend;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// Change replication (issue 14, "Speed"): <c>dsql-sync run</c> as a child process streams a PostgreSQL source
/// (<c>wal_level = logical</c>, started by the lab) into the emulator while a write generator offers a step series of
/// rates and then one steady rate. Measured: the changes/s applied (the tool's own count), the end-to-end lag of marker
/// rows (source commit to arrival on the target), the slot's backlog at the source, the tool's resident memory over
/// the steady phase, and where the CPU goes (tool, emulator, the two PostgreSQL clusters, the lab, everything else).
/// </summary>
internal static class CdcScenario
{
    public const double RateTarget = 10_000;
    public const double LagTargetSeconds = 2;
    public const double MemoryRatioTarget = 1.10;
    public const int SeedRows = 100_000;
    public const int GeneratorConnections = 8;
    public const string Slot = "lab_cdc_slot";
    private static readonly int[] DefaultSteps = [2_000, 5_000, 10_000, 15_000];

    /// <summary>A step kept up when it applied at least this share of what the source committed, with a lag that did not grow.</summary>
    private const double KeepUpShare = 0.95;

    private const string CreateTable =
        "CREATE TABLE lab_cdc (id integer PRIMARY KEY, b bigint NOT NULL, t text NOT NULL, n numeric(12,2) NOT NULL, ts timestamptz NOT NULL, f boolean NOT NULL)";

    /// <summary>Durations of the run: full (a 10-minute steady phase) or quick (about 2 minutes in all).</summary>
    private sealed record Plan(IReadOnlyList<int> Steps, TimeSpan Step, TimeSpan StepWarmUp, TimeSpan SteadyWarmUp, TimeSpan Steady, TimeSpan DrainLimit, int Lanes);

    private static Plan PlanFor(LabSettings settings) => settings.Quick
        ? new Plan(settings.CdcSteps ?? DefaultSteps, TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(10), settings.CdcSteady ?? TimeSpan.FromSeconds(40),
            TimeSpan.FromSeconds(45), settings.CdcLanes)
        : new Plan(settings.CdcSteps ?? DefaultSteps, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(60), settings.CdcSteady ?? TimeSpan.FromSeconds(600),
            TimeSpan.FromSeconds(180), settings.CdcLanes);

    /// <summary>End-to-end lag of the markers of a window, in seconds; markers that never arrived are counted apart.</summary>
    private sealed record LagStats(int Arrived, int Missing, double P50, double P99, double Max)
    {
        public static LagStats Of(IEnumerable<CdcMonitor.Marker> markers)
        {
            var committed = markers.Where(m => m.Committed).ToArray();
            var lags = committed.Where(m => m.Lag is not null).Select(m => m.Lag!.Value).OrderBy(l => l).ToArray();
            return new LagStats(lags.Length, committed.Length - lags.Length, Stats.Percentile(lags, 0.50), Stats.Percentile(lags, 0.99), lags.Length == 0 ? double.NaN : lags[^1]);
        }
    }

    /// <summary>One phase (a step or the steady phase) as measured over its window (the phase less its warm-up).</summary>
    private sealed record Phase(string Name, GeneratorPhase Generator, double From, double To, double CommittedRate, double AppliedRate, double ChangesPerDsqlTransaction, LagStats Lag,
        double LagFirstThird, double LagLastThird, double BacklogFirst, double BacklogLast, double BacklogMax, bool Drained)
    {
        public bool KeptUp => Drained && AppliedRate >= KeepUpShare * CommittedRate && !(LagLastThird > LagFirstThird + 1.0);

        public string Verdict => KeptUp ? "yes"
            : !Drained ? "no (did not drain)"
            : !(AppliedRate >= KeepUpShare * CommittedRate) ? "no (applied < 95% of committed)"
            : "no (lag grew)";
    }

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        var plan = PlanFor(settings);
        var result = new ScenarioResult
        {
            Id = "cdc",
            Title = "Change replication: dsql-sync run from a PostgreSQL source into the emulator",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"A source PostgreSQL (wal_level = logical) and the emulator (own process, own PostgreSQL) both started by the lab; `lab_cdc` (int key, bigint, 40-byte text, numeric(12,2), timestamptz, bool) seeded with {SeedRows:#,0} rows and `lab_marker (id bigint primary key, source_time timestamptz)`. ") +
                string.Create(CultureInfo.InvariantCulture, $"`dsql-sync run pipeline.yaml` (the built tool, a child process; sink.parallelism {plan.Lanes}: its apply lanes, and the full load's connections per table) loads both tables from its slot's snapshot, then streams. ") +
                string.Create(CultureInfo.InvariantCulture, $"A write generator ({GeneratorConnections} connections, open loop: transaction k is due at k x 10 / rate s) commits transactions of {CdcWriteGenerator.ChangesPerTransaction} changes (about 48% updates, 30% inserts, 20% deletes, 2% key updates, random live keys); ") +
                "a marker row is inserted every 100 ms (source_time = clock_timestamp(), autocommit) and the target is polled every 20 ms: lag = arrival - source_time. " +
                "Changes applied: the tool's status line (the applier's own count, printed every second), exact; changes committed: the rows each source transaction changed. " +
                string.Create(CultureInfo.InvariantCulture, $"Steps: {string.Join(", ", plan.Steps.Select(s => s.ToString("#,0", CultureInfo.InvariantCulture)))} changes/s, {plan.Step.TotalSeconds:0} s each (the first {plan.StepWarmUp.TotalSeconds:0} s not measured), stopping at the first step not kept up with, the backlog drained after each; ") +
                string.Create(CultureInfo.InvariantCulture, $"then a steady phase at the highest rate kept up with: {plan.SteadyWarmUp.TotalSeconds:0} s warm-up and {plan.Steady.TotalSeconds:0} s measured (lag, backlog, the tool's RSS every second, CPU time per process from /proc)."),
        };
        var clock = Stopwatch.StartNew();

        // The target: the emulator on a PostgreSQL of the lab's own, so that its postmaster's CPU can be read.
        await using var targetCluster = await PostgresCluster.StartAsync(new PostgresClusterOptions { MaxConnections = 200 });
        await ExecuteAsync(targetCluster.ConnectionString, "CREATE ROLE lab_emulator SUPERUSER LOGIN");
        await using var lab = await LabEndpoint.StartAsync("--backend",
            $"Host={targetCluster.SocketDirectory};Port={targetCluster.Port.ToString(CultureInfo.InvariantCulture)};Database=postgres;Username=lab_emulator");

        // The source: wal_level = logical, a role that logs in on the private socket without a password (so none goes
        // in the pipeline file), owns the tables and may replicate.
        var sourceOptions = new PostgresClusterOptions { MaxConnections = 100 };
        sourceOptions.ServerSettings["wal_level"] = "logical";
        sourceOptions.ServerSettings["max_replication_slots"] = "10";
        sourceOptions.ServerSettings["max_wal_senders"] = "10";
        await using var sourceCluster = await PostgresCluster.StartAsync(sourceOptions);
        await ExecuteAsync(sourceCluster.ConnectionString, "CREATE ROLE lab_source SUPERUSER REPLICATION LOGIN");
        await ExecuteAsync(sourceCluster.ConnectionString, "CREATE DATABASE lab_source OWNER lab_source");
        var sourceSettings = new NpgsqlConnectionStringBuilder
        {
            Host = sourceCluster.SocketDirectory, Port = sourceCluster.Port, Database = "lab_source", Username = "lab_source",
            MaxPoolSize = GeneratorConnections + 8, NoResetOnClose = true,
        };
        await using var source = NpgsqlDataSource.Create(sourceSettings.ConnectionString);
        settings.Log($"cdc: seeding {SeedRows:#,0} rows at the source");
        await using (var connection = await source.OpenConnectionAsync())
        {
            await ExecuteAsync(connection, CreateTable);
            await ExecuteAsync(connection, "CREATE TABLE lab_marker (id bigint PRIMARY KEY, source_time timestamptz NOT NULL)");
            await ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture,
                $"INSERT INTO lab_cdc SELECT g, g * 7919::bigint, 'cdc lab row ' || lpad(g::text, 10, '0') || ' change 0000000000', (g % 1000000) / 100.0, now(), g % 2 = 0 FROM generate_series(1, {SeedRows}) g"));
            await ExecuteAsync(connection, "VACUUM ANALYZE lab_cdc");
        }

        string directory = Directory.CreateTempSubdirectory("dsql-lab-cdc-").FullName;
        try
        {
            string pipelineFile = Path.Combine(directory, "pipeline.yaml");
            await File.WriteAllTextAsync(pipelineFile, PipelineFile(sourceCluster, lab, plan.Lanes));
            settings.Log("cdc: dsql-sync run (full load, then streaming)");
            await using var tool = CdcToolProcess.Start(pipelineFile, clock);
            double toolStarted = clock.Elapsed.TotalSeconds;
            await tool.WaitForAsync("streaming changes from", TimeSpan.FromMinutes(5));
            double streaming = clock.Elapsed.TotalSeconds;
            result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"The tool's start and full load of {SeedRows:#,0} rows took {streaming - toolStarted:0.0} s (process start to its 'streaming changes from' line)."));

            await using var target = lab.Connector("Maximum Pool Size=4");
            var generator = new CdcWriteGenerator(source, GeneratorConnections, SeedRows);
            var processes = new CdcMonitor.Processes(tool.ProcessId, lab.ProcessId, ProcessStats.Postmaster(targetCluster), ProcessStats.Postmaster(sourceCluster));
            await using var monitor = new CdcMonitor(clock, source, target, Slot, processes, () => generator.CommittedChanges);
            if (!await monitor.WaitForMarkerAfterAsync(0, TimeSpan.FromSeconds(60)))
                throw new InvalidOperationException($"No marker reached the target within 60 s of the stream's start ({monitor.LastError}):\n{tool.Tail}");

            // The step series: the highest rate kept up with.
            var steps = new List<Phase>();
            foreach (int rate in plan.Steps)
            {
                settings.Log(string.Create(CultureInfo.InvariantCulture, $"cdc: step {rate:#,0} changes/s for {plan.Step.TotalSeconds:0} s"));
                var step = await RunPhaseAsync($"step {rate.ToString("#,0", CultureInfo.InvariantCulture)}", generator, monitor, tool, clock, rate, plan.Step, plan.StepWarmUp, plan.DrainLimit);
                steps.Add(step);
                settings.Log(string.Create(CultureInfo.InvariantCulture,
                    $"cdc: step {rate:#,0}: committed {step.CommittedRate:0}/s, applied {step.AppliedRate:0}/s, lag p50 {step.Lag.P50:0.00} s p99 {step.Lag.P99:0.00} s, kept up: {step.Verdict}"));
                if (!step.KeptUp) break;
            }
            var kept = steps.Where(s => s.KeptUp).ToArray();
            double highestKept = kept.Length == 0 ? 0 : kept.Max(s => s.Generator.OfferedPerSecond);
            double bestApplied = steps.Select(s => s.AppliedRate).Where(r => !double.IsNaN(r)).DefaultIfEmpty(0).Max();
            double steadyRate = settings.CdcRate
                ?? (kept.Length > 0 ? highestKept : Math.Max(500, Math.Floor(0.8 * bestApplied / 100) * 100));

            // The steady phase: lag, backlog, memory and CPU at one rate.
            settings.Log(string.Create(CultureInfo.InvariantCulture, $"cdc: steady phase at {steadyRate:#,0} changes/s: {plan.SteadyWarmUp.TotalSeconds:0} s warm-up, {plan.Steady.TotalSeconds:0} s measured"));
            var steady = await RunPhaseAsync("steady", generator, monitor, tool, clock, steadyRate, plan.SteadyWarmUp + plan.Steady, plan.SteadyWarmUp, plan.DrainLimit);
            settings.Log(string.Create(CultureInfo.InvariantCulture,
                $"cdc: steady: committed {steady.CommittedRate:0}/s, applied {steady.AppliedRate:0}/s, lag p50 {steady.Lag.P50:0.00} s p99 {steady.Lag.P99:0.00} s max {steady.Lag.Max:0.00} s"));

            // The end: no more markers, every committed change applied exactly once, the target equal to the source.
            await monitor.StopMarkersAsync();
            long committedAtSource = generator.CommittedChanges + monitor.MarkersCommitted;
            var waited = Stopwatch.StartNew();
            while (tool.LastApplied < committedAtSource && waited.Elapsed < plan.DrainLimit && !tool.HasExited) await Task.Delay(200);
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // one more status line: a count above the committed one would show too
            long applied = tool.LastApplied;
            var (sourceSum, targetSum) = (await ChecksumAsync(source), await TargetChecksumAsync(target));
            var samples = monitor.Samples;
            var markers = monitor.Markers;
            int? exitCode = await tool.StopAsync();

            // ---- the report
            result.Comparisons.Add(Comparison.Checked(
                string.Create(CultureInfo.InvariantCulture, $"changes/s applied at steady state ({plan.Steady.TotalSeconds:0} s at {steadyRate:#,0} offered)"),
                "committed at the source", steady.CommittedRate, "applied", steady.AppliedRate, "changes/s",
                string.Create(CultureInfo.InvariantCulture, $">= {RateTarget:#,0} changes/s"), steady.AppliedRate >= RateTarget));
            result.Comparisons.Add(Comparison.Checked("highest offered rate kept up with (step series)", "target", RateTarget, "kept up with", highestKept, "changes/s",
                string.Create(CultureInfo.InvariantCulture, $">= {RateTarget:#,0} changes/s"), highestKept >= RateTarget));
            result.Comparisons.Add(Comparison.Checked("end-to-end lag at steady state (source commit to arrival on the target)", "p50", steady.Lag.P50 * 1000, "p99", steady.Lag.P99 * 1000, "ms",
                string.Create(CultureInfo.InvariantCulture, $"p99 < {LagTargetSeconds:0} s"), steady.Lag.P99 < LagTargetSeconds && steady.Lag.Missing == 0));
            result.Comparisons.Add(Comparison.Checked("backlog at the source (slot: current WAL - confirmed_flush_lsn), steady state", "first third (median)", steady.BacklogFirst / 1048576.0,
                "last third (median)", steady.BacklogLast / 1048576.0, "MiB", "bounded (last <= 1.5 x first + 1 MiB)", steady.BacklogLast <= 1.5 * steady.BacklogFirst + 1048576.0));
            var memory = Memory(samples, steady.From, steady.To);
            result.Comparisons.Add(Comparison.Checked(string.Create(CultureInfo.InvariantCulture, $"resident memory of the dsql-sync process, steady state (slope {memory.SlopeMiBPerMinute:+0.00;-0.00} MiB/min)"),
                $"first {memory.WindowLabel} (mean)", memory.First, $"last {memory.WindowLabel} (mean)", memory.Last, "MiB",
                string.Create(CultureInfo.InvariantCulture, $"flat (ratio <= {MemoryRatioTarget:0.00})"), memory.Last <= MemoryRatioTarget * memory.First));
            result.Comparisons.Add(Comparison.Checked("changes applied by the tool against changes committed at the source (after the final drain)", "committed", committedAtSource,
                "applied", applied, "changes", "equal", applied == committedAtSource));

            result.Details.Add(new DetailTable("Step series and steady phase (measured windows; lag from the markers; backlog in MiB, first and last third medians / max)",
                ["phase", "offered changes/s", "committed at source /s", "applied /s", "applied / committed", "lag p50 / p99 / max", "lag first / last third", "backlog first / last / max", "generator: not sent, mean late", "kept up"],
                steps.Append(steady).Select(p => (IReadOnlyList<string>)
                [
                    p.Name,
                    Rate(p.Generator.OfferedPerSecond),
                    Rate(p.CommittedRate),
                    Rate(p.AppliedRate),
                    (p.AppliedRate / p.CommittedRate).ToString("0.000", CultureInfo.InvariantCulture),
                    string.Create(CultureInfo.InvariantCulture, $"{p.Lag.P50:0.00} / {p.Lag.P99:0.00} / {p.Lag.Max:0.00} s") + (p.Lag.Missing > 0 ? $" ({p.Lag.Missing} never arrived)" : ""),
                    string.Create(CultureInfo.InvariantCulture, $"{p.LagFirstThird:0.00} / {p.LagLastThird:0.00} s"),
                    string.Create(CultureInfo.InvariantCulture, $"{p.BacklogFirst / 1048576.0:0.0} / {p.BacklogLast / 1048576.0:0.0} / {p.BacklogMax / 1048576.0:0.0}"),
                    string.Create(CultureInfo.InvariantCulture, $"{p.Generator.NotSent:#,0} tx, {p.Generator.MeanLateMilliseconds:0.0} ms"),
                    ReferenceEquals(p, steady) ? "(steady)" : p.Verdict,
                ]).ToArray()));
            result.Details.Add(CpuTable(samples, steady));
            result.Details.Add(PhaseCpuTable(samples, steps.Append(steady)));
            if (CpuPerChange(samples, steady) is { } perChange)
            {
                result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"CPU per change applied over the steady phase, all processes of the chain together (tool, emulator, both PostgreSQL clusters, the lab's generator): {perChange.All:0.000} ms, of which the tool {perChange.Tool:0.000} ms. ") +
                    string.Create(CultureInfo.InvariantCulture,
                    $"At that cost, {RateTarget:#,0} changes/s would need {perChange.All * RateTarget / 1000:0.0} cores for the chain ({perChange.Tool * RateTarget / 1000:0.0} for the tool alone); this machine has {Environment.ProcessorCount}."));
            }
            result.Details.Add(MemoryTable(samples, steady, memory));

            result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"A step counts as kept up with when the changes applied per second were at least {KeepUpShare:0%} of those committed at the source in its window, the markers' lag in its last third was at most 1 s above its first third, and the backlog drained afterwards (every phase ends with the generator paused until a marker inserted after it arrives, at most {plan.DrainLimit.TotalSeconds:0} s)."));
            result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"After the steady phase: the tool reported {applied:#,0} changes applied against {committedAtSource:#,0} committed at the source ({generator.CommittedTransactions:#,0} generator transactions, {generator.FailedTransactions:#,0} failed; {monitor.MarkersCommitted:#,0} markers); ") +
                $"lab_cdc on the source (count, sum of id, sum of b) {sourceSum}, on the target {targetSum}: {(sourceSum == targetSum ? "equal" : "DIFFERENT")}. The tool stopped on SIGTERM with exit code {(exitCode is { } code ? code.ToString(CultureInfo.InvariantCulture) : "none (killed after 30 s)")}.");
            result.Notes.Add(steadyRate == highestKept || settings.CdcRate is not null
                ? string.Create(CultureInfo.InvariantCulture, $"The steady rate, {steadyRate:#,0} changes/s, is {(settings.CdcRate is not null ? "the --cdc-rate given" : "the highest step kept up with")}.")
                : string.Create(CultureInfo.InvariantCulture, $"No step was kept up with; the steady rate, {steadyRate:#,0} changes/s, is 80% of the best applied rate of the steps ({bestApplied:#,0}/s)."));
            result.Notes.Add("The lag is measured to the moment the lab's 20 ms poll through the emulator sees the marker, so it includes up to 20 ms of polling and one query; source_time is taken by the INSERT, which commits at once.");
            if (monitor.PollErrors > 0 || monitor.LastError is not null) result.Notes.Add($"Monitor: {monitor.PollErrors} poll error(s) (reopened); last: {monitor.LastError}");
            if (generator.LastError is not null) result.Notes.Add($"Generator: last error: {generator.LastError}");
            if (sourceSum != targetSum || applied != committedAtSource)
                result.Error = $"the target does not match the source after the final drain (applied {applied:#,0} of {committedAtSource:#,0}; source {sourceSum}, target {targetSum})";
            return result;
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// Offers <paramref name="rate"/> for <paramref name="duration"/>, pauses the generator, waits until a marker inserted
    /// after the pause arrives (the backlog drained) and measures the phase's window: from <paramref name="warmUp"/>
    /// after its start to its end.
    /// </summary>
    private static async Task<Phase> RunPhaseAsync(string name, CdcWriteGenerator generator, CdcMonitor monitor, CdcToolProcess tool, Stopwatch clock,
        double rate, TimeSpan duration, TimeSpan warmUp, TimeSpan drainLimit)
    {
        double start = clock.Elapsed.TotalSeconds;
        var generated = await generator.RunAsync(rate, duration, CancellationToken.None);
        double end = clock.Elapsed.TotalSeconds;
        bool drained = await monitor.WaitForMarkerAfterAsync(end, drainLimit);
        if (tool.HasExited) throw new InvalidOperationException($"dsql-sync run exited during {name}:\n{tool.Tail}");
        double from = start + warmUp.TotalSeconds;

        var samples = monitor.Samples.Where(s => s.At >= from - 0.5 && s.At <= end + 0.5).ToArray();
        double committedRate = samples.Length >= 2 ? (samples[^1].SourceChanges - samples[0].SourceChanges) / (samples[^1].At - samples[0].At) : double.NaN;
        double appliedRate = CdcToolProcess.RateBetween(tool.Applied, from, end);
        var markers = monitor.Markers.Where(m => m.InsertedAt >= from && m.InsertedAt <= end).ToArray();
        double third = (end - from) / 3;
        var backlog = samples.Where(s => s.BacklogBytes is not null).Select(s => (s.At, Bytes: s.BacklogBytes!.Value)).ToArray();
        return new Phase(name, generated, from, end, committedRate, appliedRate, CdcToolProcess.ChangesPerTransaction(tool.Applied, from, end), LagStats.Of(markers),
            LagStats.Of(markers.Where(m => m.InsertedAt < from + third)).P50,
            LagStats.Of(markers.Where(m => m.InsertedAt >= end - third)).P50,
            Stats.Median(backlog.Where(b => b.At < from + third).Select(b => b.Bytes)),
            Stats.Median(backlog.Where(b => b.At >= end - third).Select(b => b.Bytes)),
            backlog.Length == 0 ? double.NaN : backlog.Max(b => b.Bytes),
            drained);
    }

    /// <summary>The tool's RSS over a window: the mean of its first and last minute (a third when shorter than three minutes), and its slope.</summary>
    private sealed record MemoryFigures(double First, double Last, double SlopeMiBPerMinute, string WindowLabel, IReadOnlyList<(double At, double MiB)> Samples);

    private static MemoryFigures Memory(IReadOnlyList<CdcMonitor.Sample> samples, double from, double to)
    {
        var rss = samples.Where(s => s.At >= from && s.At <= to && s.ToolRss is not null).Select(s => (s.At, MiB: s.ToolRss!.Value / 1048576.0)).ToArray();
        double window = Math.Min(60, (to - from) / 3);
        string label = window >= 60 ? "minute" : string.Create(CultureInfo.InvariantCulture, $"{window:0} s");
        double first = rss.Where(r => r.At < from + window).Select(r => r.MiB).DefaultIfEmpty(double.NaN).Average();
        double last = rss.Where(r => r.At >= to - window).Select(r => r.MiB).DefaultIfEmpty(double.NaN).Average();
        double slope = Stats.Slope(rss.Select(r => r.At / 60).ToArray(), rss.Select(r => r.MiB).ToArray());
        return new MemoryFigures(first, last, slope, label, rss);
    }

    private static DetailTable MemoryTable(IReadOnlyList<CdcMonitor.Sample> samples, Phase steady, MemoryFigures memory)
    {
        // One row per tenth of the steady window: the mean RSS in it, and the backlog and the applied lag there.
        double width = (steady.To - steady.From) / 10;
        var rows = new List<IReadOnlyList<string>>();
        for (int i = 0; i < 10; i++)
        {
            double a = steady.From + i * width, b = a + width;
            var inside = memory.Samples.Where(r => r.At >= a && r.At < b).Select(r => r.MiB).ToArray();
            var backlog = samples.Where(s => s.At >= a && s.At < b && s.BacklogBytes is not null).Select(s => s.BacklogBytes!.Value).ToArray();
            rows.Add(
            [
                string.Create(CultureInfo.InvariantCulture, $"{a - steady.From:0}-{b - steady.From:0} s"),
                inside.Length == 0 ? "n/a" : inside.Average().ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
                backlog.Length == 0 ? "n/a" : (backlog.Average() / 1048576.0).ToString("0.00", CultureInfo.InvariantCulture) + " MiB",
            ]);
        }
        return new DetailTable(string.Create(CultureInfo.InvariantCulture,
            $"The steady phase in tenths: the dsql-sync process's mean RSS (sampled every second; slope over the phase {memory.SlopeMiBPerMinute:+0.00;-0.00} MiB/min) and the source's mean backlog"),
            ["time into the measured window", "RSS of dsql-sync", "backlog at the source"], rows);
    }

    /// <summary>CPU used over the steady window by each process, as cores (CPU seconds per second) and per 1,000 changes applied.</summary>
    private static DetailTable CpuTable(IReadOnlyList<CdcMonitor.Sample> samples, Phase steady)
    {
        var window = samples.Where(s => s.At >= steady.From && s.At <= steady.To).ToArray();
        if (window.Length < 2) return new DetailTable("CPU over the steady phase: too few samples", ["process"], []);
        var (a, b) = (window[0], window[^1]);
        double seconds = b.At - a.At;
        double changes = steady.AppliedRate * seconds;
        double machineCores = b.MachineTotal > a.MachineTotal ? (double)(b.MachineBusy - a.MachineBusy) / (b.MachineTotal - a.MachineTotal) * Environment.ProcessorCount : double.NaN;
        var rows = new List<(string Name, double Cpu)>
        {
            ("dsql-sync run (the tool: source decoding client, applier)", b.ToolCpu - a.ToolCpu),
            ("emulator (TLS, SQL classification, DSQL rules)", b.EmulatorCpu - a.EmulatorCpu),
            ("target PostgreSQL (behind the emulator)", b.TargetCpu - a.TargetCpu),
            ("source PostgreSQL (writes, WAL, the wal sender's decoding)", b.SourceCpu - a.SourceCpu),
            ("the lab (write generator, markers, poller)", b.LabCpu - a.LabCpu),
        };
        double ours = rows.Sum(r => r.Cpu) / seconds;
        var table = rows.Select(r => (IReadOnlyList<string>)
        [
            r.Name,
            (r.Cpu / seconds).ToString("0.00", CultureInfo.InvariantCulture),
            (r.Cpu / seconds / Environment.ProcessorCount).ToString("0%", CultureInfo.InvariantCulture),
            changes > 0 ? (r.Cpu * 1000 / changes * 1000).ToString("0.00", CultureInfo.InvariantCulture) + " ms" : "n/a",
        ]).ToList();
        table.Add(["everything else on the machine", (machineCores - ours).ToString("0.00", CultureInfo.InvariantCulture), ((machineCores - ours) / Environment.ProcessorCount).ToString("0%", CultureInfo.InvariantCulture), ""]);
        table.Add(["whole machine (/proc/stat)", machineCores.ToString("0.00", CultureInfo.InvariantCulture), (machineCores / Environment.ProcessorCount).ToString("0%", CultureInfo.InvariantCulture), ""]);
        return new DetailTable(string.Create(CultureInfo.InvariantCulture,
            $"CPU over the steady phase ({seconds:0} s, {Environment.ProcessorCount} cores): cores used (CPU seconds per second), share of the machine, CPU per 1,000 changes applied"),
            ["process", "cores", "share of the machine", "CPU per 1,000 changes"], table);
    }

    /// <summary>CPU milliseconds per change applied over a phase: all the chain's processes, and the tool alone.</summary>
    private static (double All, double Tool)? CpuPerChange(IReadOnlyList<CdcMonitor.Sample> samples, Phase phase)
    {
        var window = samples.Where(s => s.At >= phase.From && s.At <= phase.To).ToArray();
        if (window.Length < 2 || !(phase.AppliedRate > 0)) return null;
        var (a, b) = (window[0], window[^1]);
        double changes = phase.AppliedRate * (b.At - a.At);
        double all = (b.ToolCpu - a.ToolCpu) + (b.EmulatorCpu - a.EmulatorCpu) + (b.TargetCpu - a.TargetCpu) + (b.SourceCpu - a.SourceCpu) + (b.LabCpu - a.LabCpu);
        return (all * 1000 / changes, (b.ToolCpu - a.ToolCpu) * 1000 / changes);
    }

    /// <summary>Cores used in each phase's window by each process, the rest of the machine and the whole machine.</summary>
    private static DetailTable PhaseCpuTable(IReadOnlyList<CdcMonitor.Sample> samples, IEnumerable<Phase> phases)
    {
        var rows = new List<IReadOnlyList<string>>();
        foreach (var phase in phases)
        {
            var window = samples.Where(s => s.At >= phase.From && s.At <= phase.To).ToArray();
            if (window.Length < 2) continue;
            var (a, b) = (window[0], window[^1]);
            double seconds = b.At - a.At;
            double[] cores = [b.ToolCpu - a.ToolCpu, b.EmulatorCpu - a.EmulatorCpu, b.TargetCpu - a.TargetCpu, b.SourceCpu - a.SourceCpu, b.LabCpu - a.LabCpu];
            double machine = b.MachineTotal > a.MachineTotal ? (double)(b.MachineBusy - a.MachineBusy) / (b.MachineTotal - a.MachineTotal) * Environment.ProcessorCount : double.NaN;
            double ours = cores.Sum() / seconds;
            double changes = phase.AppliedRate * seconds;
            rows.Add([phase.Name, .. cores.Select(c => (c / seconds).ToString("0.00", CultureInfo.InvariantCulture)),
                (machine - ours).ToString("0.00", CultureInfo.InvariantCulture), machine.ToString("0.00", CultureInfo.InvariantCulture),
                changes > 0 ? (cores[0] * 1000 / changes).ToString("0.000", CultureInfo.InvariantCulture) + " ms" : "n/a",
                changes > 0 ? (cores.Sum() * 1000 / changes).ToString("0.000", CultureInfo.InvariantCulture) + " ms" : "n/a",
                double.IsNaN(phase.ChangesPerDsqlTransaction) ? "n/a" : phase.ChangesPerDsqlTransaction.ToString("#,0", CultureInfo.InvariantCulture)]);
        }
        return new DetailTable($"Cores used in each phase's window ({Environment.ProcessorCount} on this machine), CPU per change applied, and changes per DSQL transaction (from the tool's status line)",
            ["phase", "dsql-sync", "emulator", "target PostgreSQL", "source PostgreSQL", "lab", "everything else", "whole machine", "dsql-sync CPU per change", "chain CPU per change", "changes per DSQL transaction"], rows);
    }

    private static string PipelineFile(PostgresCluster source, LabEndpoint lab, int lanes) => string.Create(CultureInfo.InvariantCulture, $"""
        source:
          type: postgres
          hostname: {source.SocketDirectory}
          port: {source.Port}
          username: lab_source
          database-name: lab_source
          schema-name: public
          table-name: lab_cdc,lab_marker
          slot.name: {Slot}
        sink:
          type: dsql
          host: {lab.Host}
          port: {lab.Port}
          host-address: 127.0.0.1
          root-certificate: {lab.CaCertificatePath}
          max-pool-size: {Math.Max(10, lanes + 2)}
          parallelism: {lanes}
        pipeline:
          name: lab-cdc
          parallelism: 2
        """);

    /// <summary>count, sum of id, sum of b of lab_cdc at the source.</summary>
    private static async Task<string> ChecksumAsync(NpgsqlDataSource source)
    {
        await using var command = source.CreateCommand(Checksum);
        return await ReadChecksumAsync(command);
    }

    private static Task<string> TargetChecksumAsync(DsqlDataSource target)
        => target.ExecuteInTransactionAsync(async (connection, _) =>
        {
            await using var command = new NpgsqlCommand(Checksum, connection);
            return await ReadChecksumAsync(command);
        });

    private const string Checksum = "SELECT count(*), coalesce(sum(id), 0)::bigint, coalesce(sum(b), 0)::numeric FROM lab_cdc";

    private static async Task<string> ReadChecksumAsync(NpgsqlCommand command)
    {
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return string.Create(CultureInfo.InvariantCulture, $"{reader.GetInt64(0):#,0} / {reader.GetInt64(1):#,0} / {reader.GetDecimal(2):#,0}");
    }

    private static string Rate(double perSecond) => double.IsNaN(perSecond) ? "n/a" : perSecond.ToString("#,0", CultureInfo.InvariantCulture);

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await ExecuteAsync(connection, sql);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
