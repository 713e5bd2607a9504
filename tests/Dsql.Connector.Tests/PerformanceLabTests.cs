using System.Text.Json;
using Dsql.Connector.Benchmarks.Lab;

namespace Dsql.Connector.Tests;

/// <summary>The performance lab's statistics, verdicts, command line and report files.</summary>
public sealed class PerformanceLabTests
{
    // ------------------------------------------------------------------ statistics

    [Fact]
    public void Percentile_is_nearest_rank()
    {
        double[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(5, Stats.Percentile(sorted, 0.5));
        Assert.Equal(9, Stats.Percentile(sorted, 0.9));
        Assert.Equal(10, Stats.Percentile(sorted, 0.99));
        Assert.Equal(1, Stats.Percentile(sorted, 0.01));
        Assert.True(double.IsNaN(Stats.Percentile(Array.Empty<double>(), 0.5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Stats.Percentile(sorted, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Stats.Percentile(sorted, 1.5));
    }

    [Fact]
    public void Median_of_odd_and_even_counts_and_of_nothing()
    {
        Assert.Equal(3, Stats.Median([5, 1, 3]));
        Assert.Equal(2.5, Stats.Median([4, 1, 3, 2]));
        Assert.True(double.IsNaN(Stats.Median([])));
    }

    [Fact]
    public void Slope_of_a_line_and_of_too_little_data()
    {
        Assert.Equal(3, Stats.Slope([0, 1, 2, 3], [1, 4, 7, 10]), precision: 9);
        Assert.True(double.IsNaN(Stats.Slope([1], [1])));
        Assert.True(double.IsNaN(Stats.Slope([2, 2], [1, 5])));
        var ex = Assert.Throws<ArgumentException>(() => Stats.Slope([1, 2], [1]));
        Assert.Contains("pair up", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2000, 1000, 100, 10)]
    [InlineData(1000, 1000, 100, 0)]
    [InlineData(500, 1000, 100, 0)]
    [InlineData(45, 20, 10, 2.5)]
    public void The_shortest_storm_is_the_burst_at_once_then_the_steady_rate(int connects, int burst, double rate, double seconds)
        => Assert.Equal(TimeSpan.FromSeconds(seconds), Stats.MinimumStormTime(connects, burst, rate));

    [Fact]
    public void Flatness_leaves_out_the_warm_up_and_compares_the_first_and_last_thirds()
    {
        // Ten samples: the first two are warm-up; of the eight left, thirds of two.
        double[] samples = [50, 40, 10, 10, 11, 12, 12, 13, 14, 14];
        var thirds = Flatness.Thirds(samples);
        Assert.NotNull(thirds);
        Assert.Equal(10, thirds.Value.First);
        Assert.Equal(14, thirds.Value.Last);
        Assert.Equal((1.0, 3.0), Flatness.Thirds([1, 2, 3]));
        Assert.Null(Flatness.Thirds([1, 2]));
    }

    // ------------------------------------------------------------------ verdicts

    [Fact]
    public void A_ratio_target_is_met_up_to_and_including_its_bound()
    {
        Assert.Equal(Verdict.Met, Comparison.RatioAtMost("m", "a", 100, "b", 103, "µs", 1.03).Verdict);
        Assert.Equal(Verdict.Missed, Comparison.RatioAtMost("m", "a", 100, "b", 104, "µs", 1.03).Verdict);
        Assert.Equal(Verdict.Missed, Comparison.RatioAtMost("m", "a", double.NaN, "b", 1, "µs", 1.03).Verdict); // no figure, no pass
        Assert.Equal("ratio <= 1.03", Comparison.RatioAtMost("m", "a", 1, "b", 1, "µs", 1.03).Target);
    }

    [Fact]
    public void A_paired_ratio_decides_over_the_ratio_of_the_two_figures()
    {
        var comparison = Comparison.RatioAtMost("m", "a", 100, "b", 110, "µs", 1.03, pairedRatio: 1.01);
        Assert.Equal(1.01, comparison.Ratio);
        Assert.Equal(Verdict.Met, comparison.Verdict);
    }

    [Fact]
    public void Value_targets_and_reported_figures()
    {
        Assert.Equal(Verdict.Met, Comparison.ValueAtMost("errors", "bare", 941, "ours", 0, "errors", 0).Verdict);
        Assert.Equal(Verdict.Missed, Comparison.ValueAtMost("errors", "bare", 941, "ours", 1, "errors", 0).Verdict);
        Assert.Equal(Verdict.Reported, Comparison.Informative("x", "a", 1, "b", 2, "").Verdict);
        Assert.Null(Comparison.Informative("x", "a", 0, "b", 2, "").Ratio);
    }

    [Fact]
    public void Interleaved_rounds_give_the_median_of_per_round_ratios()
    {
        var rounds = new Interleaved.Rounds(["a", "b"], [[100, 100, 100, 200], [110, 90, 105, 400]]);
        var (median, low, high) = rounds.Ratio("a", "b");
        Assert.Equal(1.075, median, precision: 9); // ratios 1.1, 0.9, 1.05, 2.0
        Assert.Equal(0.9, low, precision: 9);
        Assert.Equal(1.1, high, precision: 9);
        Assert.Equal(100, rounds.Median("a"));
        Assert.Throws<ArgumentException>(() => rounds.Median("c"));
    }

    [Fact]
    public async Task Interleaved_runs_every_variant_the_same_number_of_times_in_a_rotating_order()
    {
        var order = new List<string>();
        Task Op(string name)
        {
            order.Add(name);
            return Task.CompletedTask;
        }
        var rounds = await Interleaved.RunAsync([("a", () => Op("a")), ("b", () => Op("b"))], operationsPerBlock: 2, rounds: 3, warmupRounds: 1);
        Assert.Equal(3, rounds.Count);
        Assert.Equal(8, order.Count(n => n == "a"));
        Assert.Equal(8, order.Count(n => n == "b"));
        // Warm-up a,b; then rounds a first, b first, a first.
        Assert.Equal("a a b b a a b b b b a a a a b b".Split(' '), order);
    }

    [Fact]
    public async Task Interleaved_resets_between_rounds_and_runs_each_variant_once_unrecorded_after()
    {
        var order = new List<string>();
        Task Op(string name)
        {
            order.Add(name);
            return Task.CompletedTask;
        }
        await Interleaved.RunAsync([("a", () => Op("a")), ("b", () => Op("b"))], operationsPerBlock: 1, rounds: 4, warmupRounds: 0,
            reset: () => Op("reset"), resetEvery: 2);
        Assert.Equal("a b b a reset a b a b b a".Split(' '), order);
    }

    // ------------------------------------------------------------------ command line

    [Fact]
    public void By_default_every_scenario_runs_in_full()
    {
        var settings = LabSettings.Parse([]);
        Assert.False(settings.Quick);
        Assert.Equal(LabSettings.AllScenarios, settings.Scenarios);
        Assert.Equal(TimeSpan.FromMinutes(10), settings.SoakDuration);
        Assert.Equal("docs/performance", settings.OutputDirectory);
        Assert.Equal("./build.sh bench", settings.Command);
    }

    [Fact]
    public void Quick_mode_chosen_scenarios_in_lab_order_and_the_command_that_repeats_it()
    {
        var settings = LabSettings.Parse(["--quick", "--only", "soak,token", "--out", "/tmp/x"]);
        Assert.True(settings.Quick);
        Assert.Equal("quick", settings.Mode);
        Assert.Equal(["token", "soak"], settings.Scenarios);
        Assert.Equal(TimeSpan.FromSeconds(60), settings.SoakDuration);
        Assert.Equal("/tmp/x", settings.OutputDirectory);
        Assert.Equal("./build.sh bench --quick --only soak,token --out /tmp/x", settings.Command);
        Assert.Equal(TimeSpan.FromSeconds(90), LabSettings.Parse(["--quick", "--soak", "90"]).SoakDuration);
    }

    [Theory]
    [InlineData("--only", "token,warp", "'warp'")]
    [InlineData("--only", ",", "empty")]
    [InlineData("--soak", "4", "'4'")]
    [InlineData("--soak", "ten", "'ten'")]
    [InlineData("--fast", null, "'--fast'")]
    [InlineData("--out", null, "--out needs a value")]
    public void Bad_arguments_name_what_is_wrong(string option, string? value, string named)
    {
        var ex = Assert.Throws<ArgumentException>(() => LabSettings.Parse(value is null ? [option] : [option, value]));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ report files

    private static Report SampleReport()
    {
        var report = new Report
        {
            StartedAt = new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero),
            Mode = "quick",
            Command = "./build.sh bench --quick",
            Machine = [new("cpu", "test cpu, 2 logical cores")],
            Duration = TimeSpan.FromMinutes(4.5),
        };
        var storm = new ScenarioResult { Id = "storm", Title = "Connection storm", Method = "2,000 opens at once." };
        storm.Comparisons.Add(Comparison.RatioAtMost("time to open all", "theoretical minimum", 10, "DsqlDataSource", 10.7, "s", 1.15));
        storm.Comparisons.Add(Comparison.ValueAtMost("failed opens", "bare | Npgsql", 941, "DsqlDataSource", 3, "errors", 0));
        storm.Details.Add(new DetailTable("Outcome", ["client", "failed"], [["ours", "3"]]));
        storm.Notes.Add("a note");
        report.Scenarios.Add(storm);
        report.Scenarios.Add(new ScenarioResult { Id = "soak", Title = "Soak", Method = "m", Error = "InvalidOperationException: broke" });
        return report;
    }

    [Fact]
    public void The_markdown_report_states_when_where_and_how_and_every_verdict()
    {
        string markdown = SampleReport().ToMarkdown();
        Assert.Contains("| date | 2026-11-21 10:00 UTC |", markdown, StringComparison.Ordinal);
        Assert.Contains("| command | `./build.sh bench --quick` |", markdown, StringComparison.Ordinal);
        Assert.Contains("| cpu | test cpu, 2 logical cores |", markdown, StringComparison.Ordinal);
        Assert.Contains("| time to open all | theoretical minimum: 10.0 s | DsqlDataSource: 10.7 s | 1.070 | ratio <= 1.15 | met |", markdown, StringComparison.Ordinal);
        Assert.Contains("| failed opens | bare \\| Npgsql: 941 errors | DsqlDataSource: 3 errors | 0.003 | <= 0 errors | MISSED |", markdown, StringComparison.Ordinal);
        Assert.Contains("**Did not finish:** InvalidOperationException: broke", markdown, StringComparison.Ordinal);
        Assert.Contains("- a note", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void The_json_report_carries_the_same_figures_as_numbers()
    {
        using var json = JsonDocument.Parse(SampleReport().ToJson());
        var root = json.RootElement;
        Assert.Equal("2026-11-21T10:00:00Z", root.GetProperty("date").GetString());
        Assert.Equal("quick", root.GetProperty("mode").GetString());
        Assert.Equal(270, root.GetProperty("durationSeconds").GetDouble());
        Assert.Equal("test cpu, 2 logical cores", root.GetProperty("machine").GetProperty("cpu").GetString());
        var storm = root.GetProperty("scenarios")[0];
        var first = storm.GetProperty("comparisons")[0];
        Assert.Equal(10.7, first.GetProperty("ours").GetDouble());
        Assert.Equal(1.07, first.GetProperty("ratio").GetDouble(), precision: 4);
        Assert.Equal("met", first.GetProperty("verdict").GetString());
        Assert.Equal("MISSED", storm.GetProperty("comparisons")[1].GetProperty("verdict").GetString());
        Assert.Equal("3", storm.GetProperty("details")[0].GetProperty("rows")[0].GetProperty("failed").GetString());
        Assert.Equal("InvalidOperationException: broke", root.GetProperty("scenarios")[1].GetProperty("error").GetString());
    }

    [Fact]
    public void A_missing_figure_is_null_in_json_and_n_a_in_markdown()
    {
        var report = SampleReport();
        report.Scenarios[1].Comparisons.Add(Comparison.Informative("x", "a", double.NaN, "b", 1, "µs"));
        using var json = JsonDocument.Parse(report.ToJson());
        var comparison = json.RootElement.GetProperty("scenarios")[1].GetProperty("comparisons")[0];
        Assert.Equal(JsonValueKind.Null, comparison.GetProperty("baseline").ValueKind);
        Assert.Equal(JsonValueKind.Null, comparison.GetProperty("ratio").ValueKind);
        Assert.Contains("| x | a: n/a | b: 1.00 µs | n/a |", report.ToMarkdown(), StringComparison.Ordinal);
    }
}
