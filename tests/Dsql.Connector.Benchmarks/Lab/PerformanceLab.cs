using System.Diagnostics;
using Dsql.Connector.Benchmarks.Micro;
using Dsql.Connector.Benchmarks.Scenarios;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>Runs the chosen scenarios in order and writes the report.</summary>
internal static class PerformanceLab
{
    public static async Task<int> RunAsync(LabSettings settings)
    {
        var report = new Report { StartedAt = DateTimeOffset.UtcNow, Mode = settings.Mode, Command = settings.Command, Machine = Machine.Describe() };
        var clock = Stopwatch.StartNew();
        settings.Log($"performance lab ({settings.Mode}): {string.Join(", ", settings.Scenarios)}");

        var micro = settings.Scenarios.Where(MicroSuite.Covers).ToArray();
        if (micro.Length > 0) report.Scenarios.AddRange(MicroSuite.Run(settings, micro));

        foreach (string id in settings.Scenarios.Where(s => !MicroSuite.Covers(s)))
        {
            settings.Log($"scenario {id}");
            report.Scenarios.Add(await RunScenarioAsync(settings, id));
        }
        report.Duration = clock.Elapsed;

        Directory.CreateDirectory(settings.OutputDirectory);
        string markdownPath = Path.Combine(settings.OutputDirectory, settings.Mode + ".md");
        string jsonPath = Path.Combine(settings.OutputDirectory, settings.Mode + ".json");
        string markdown = report.ToMarkdown();
        await File.WriteAllTextAsync(markdownPath, markdown);
        await File.WriteAllTextAsync(jsonPath, report.ToJson());
        Console.WriteLine(markdown);
        settings.Log($"wrote {markdownPath} and {jsonPath} in {report.Duration.TotalMinutes:0.0} min");

        var failed = report.Scenarios.Where(s => s.Error is not null).ToArray();
        foreach (var scenario in failed) Console.Error.WriteLine($"error: scenario '{scenario.Id}' did not finish: {scenario.Error}");
        foreach (var missed in report.Missed) Console.Error.WriteLine($"missed: {missed.Measure}: ratio {Report.FormatRatio(missed.Ratio)}, target {missed.Target}");
        return failed.Length > 0 ? 1 : 0;
    }

    private static async Task<ScenarioResult> RunScenarioAsync(LabSettings settings, string id)
    {
        try
        {
            return id switch
            {
                "emulator" => await EmulatorScenario.RunAsync(settings),
                "storm" => await StormScenario.RunAsync(settings),
                "contention" => await ContentionScenario.RunAsync(settings),
                "efcore" => await EfCoreScenario.RunAsync(settings),
                "bulk" => await BulkScenario.RunAsync(settings),
                "cdc-apply" => await CdcApplyScenario.RunAsync(settings),
                "cdc" => await CdcScenario.RunAsync(settings),
                "regions" => await RegionsScenario.RunAsync(settings),
                "soak" => await SoakScenario.RunAsync(settings),
                _ => throw new ArgumentOutOfRangeException(nameof(id), id, "not a harness scenario"),
            };
        }
        catch (Exception ex)
        {
            settings.Log($"scenario {id} failed: {ex}");
            return new ScenarioResult { Id = id, Title = id, Method = "", Error = ex.GetType().Name + ": " + ex.Message };
        }
    }
}
