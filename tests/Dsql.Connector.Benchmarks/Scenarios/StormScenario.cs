using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Dsql.Connector.Benchmarks.Lab;
using Npgsql;

namespace Dsql.Connector.Benchmarks.Scenarios;

/// <summary>
/// A connection storm: many physical opens started at the same moment against an endpoint that enforces DSQL's
/// connection rate (a bucket of <see cref="Burst"/> refilling at <see cref="Rate"/> per second). The connector must
/// open every one of them with no error in at most 1.15x the theoretical minimum (the burst at once, then the rest at
/// the steady rate); bare Npgsql is run the same way and its errors are counted.
/// </summary>
internal static class StormScenario
{
    public const int Connects = 2_000;
    public const int Burst = 1_000;
    public const double Rate = 100;
    public const double MaximumRatio = 1.15;

    public static async Task<ScenarioResult> RunAsync(LabSettings settings)
    {
        var minimum = Stats.MinimumStormTime(Connects, Burst, Rate);
        var result = new ScenarioResult
        {
            Id = "storm",
            Title = "Connection storm",
            Method = string.Create(CultureInfo.InvariantCulture,
                $"{Connects:#,0} physical opens (`Pooling=false`; open, `SELECT 1`, close) started at once against an emulator enforcing DSQL's rate " +
                $"(burst {Burst:#,0}, {Rate:0}/s), once through the connector with its defaults and once through bare Npgsql with a static " +
                $"token, each against a fresh emulator. Theoretical minimum: the burst at once, then {Connects - Burst:#,0} at {Rate:0}/s = {minimum.TotalSeconds:0.0} s."),
        };

        StormOutcome ours;
        long attempts;
        string retried;
        using (var counters = new ConnectorCounters())
        {
            ours = await StormAsync(settings, "ours", lab => new Opener(lab.Connector("Pooling=false")));
            attempts = counters["dsql.connect.attempts"];
            retried = counters.Reasons("dsql.connect.failures");
        }
        var bare = await StormAsync(settings, "bare", lab => new Opener(lab.Bare("Pooling=false")));

        result.Comparisons.Add(Comparison.RatioAtMost("time to open all", "theoretical minimum", minimum.TotalSeconds, "DsqlDataSource", ours.Elapsed.TotalSeconds, "s", MaximumRatio));
        result.Comparisons.Add(Comparison.ValueAtMost("failed opens", "bare NpgsqlDataSource", bare.Failures, "DsqlDataSource", ours.Failures, "errors", 0));
        result.Comparisons.Add(Comparison.Informative("time until the last open ended", "bare NpgsqlDataSource", bare.Elapsed.TotalSeconds, "DsqlDataSource", ours.Elapsed.TotalSeconds, "s"));
        result.Details.Add(new DetailTable("Outcome of every open", ["client", "opened", "failed", "errors by kind", "time", "slowest open"],
        [
            Row("DsqlDataSource (defaults)", ours),
            Row("bare NpgsqlDataSource (static token)", bare),
        ]));
        result.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"Behind the connector's figure: {attempts:#,0} connect attempts for {ours.Opened:#,0} connections; failures retried inside the connector: {retried}."));
        result.Notes.Add("Bare Npgsql has no notion of the quota: the opens past the burst that arrive before the bucket refills are refused " +
                         "with 53400 and surface to the caller. The connector paces its opens with a process-wide bucket per endpoint that refills " +
                         "as DSQL's does: each open reserves its permit before its socket opens (at most 64 waiting on the server at once) and uses it " +
                         "when it sends its token; 53400 would be retried with backoff.");
        return result;

        static IReadOnlyList<string> Row(string name, StormOutcome outcome) =>
        [
            name,
            outcome.Opened.ToString("#,0", CultureInfo.InvariantCulture),
            outcome.Failures.ToString("#,0", CultureInfo.InvariantCulture),
            outcome.ErrorKinds.Count == 0 ? "none" : string.Join(", ", outcome.ErrorKinds.OrderByDescending(k => k.Value).Select(k => $"{k.Key} x{k.Value}")),
            outcome.Elapsed.TotalSeconds.ToString("0.00 s", CultureInfo.InvariantCulture),
            outcome.SlowestOpen.TotalSeconds.ToString("0.00 s", CultureInfo.InvariantCulture),
        ];
    }

    /// <summary>What one storm produced.</summary>
    internal sealed record StormOutcome(int Opened, int Failures, IReadOnlyDictionary<string, int> ErrorKinds, TimeSpan Elapsed, TimeSpan SlowestOpen);

    /// <summary>A data source to storm, disposed with the opener.</summary>
    internal sealed class Opener(System.Data.Common.DbDataSource dataSource) : IAsyncDisposable
    {
        public async Task OpenQueryCloseAsync()
        {
            await using var connection = await dataSource.OpenConnectionAsync().ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            if ((int)(await command.ExecuteScalarAsync().ConfigureAwait(false))! != 1) throw new InvalidOperationException("SELECT 1 did not answer 1");
        }

        public ValueTask DisposeAsync() => dataSource.DisposeAsync();
    }

    /// <summary>Runs one storm of <see cref="Connects"/> opens against a fresh emulator with DSQL's rate.</summary>
    private static async Task<StormOutcome> StormAsync(LabSettings settings, string label, Func<LabEndpoint, Opener> client)
    {
        await using var lab = await LabEndpoint.StartAsync(
            "--connection-burst", Burst.ToString(CultureInfo.InvariantCulture),
            "--connection-rate", Rate.ToString(CultureInfo.InvariantCulture),
            "--backend-max-connections", (Connects + 100).ToString(CultureInfo.InvariantCulture));
        await using var opener = client(lab);
        var errors = new ConcurrentDictionary<string, int>();
        int opened = 0;
        long slowestTicks = 0;
        using var start = new ManualResetEventSlim();
        var clock = Stopwatch.StartNew();
        var tasks = new Task[Connects];
        for (int i = 0; i < Connects; i++)
        {
            tasks[i] = Task.Run(async () =>
            {
                long began = Stopwatch.GetTimestamp();
                try
                {
                    await opener.OpenQueryCloseAsync().ConfigureAwait(false);
                    Interlocked.Increment(ref opened);
                }
                catch (Exception ex)
                {
                    errors.AddOrUpdate(Kind(ex), 1, static (_, n) => n + 1);
                }
                long took = Stopwatch.GetTimestamp() - began;
                long seen;
                while (took > (seen = Interlocked.Read(ref slowestTicks)) && Interlocked.CompareExchange(ref slowestTicks, took, seen) != seen)
                {
                }
            });
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        settings.Log($"storm {label}: {opened} opened, {errors.Values.Sum()} failed in {elapsed.TotalSeconds:0.00} s");
        return new StormOutcome(opened, errors.Values.Sum(), errors, elapsed, Stopwatch.GetElapsedTime(0, slowestTicks));
    }

    private static string Kind(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState,
        NpgsqlException { InnerException: TimeoutException } => "timeout",
        NpgsqlException { InnerException: PostgresException pg } => pg.SqlState,
        _ => ex.GetType().Name,
    };
}
