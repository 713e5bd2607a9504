// The performance lab: every performance claim of the connector and the emulator, measured side by side in one run.
// Results go to docs/performance/<mode>.md and .json; docs/performance.md explains them. See LabSettings.Usage.
using BenchmarkDotNet.Running;
using Dsql.Connector.Benchmarks;
using Dsql.Connector.Benchmarks.Lab;
using Dsql.Connector.Benchmarks.Scenarios;

if (args.Length > 0 && args[0] == "bdn")
{
    // Plain BenchmarkDotNet over the micro benchmarks, for exploring one of them.
    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..]);
    return 0;
}
if (args.Length > 0 && args[0] == BulkScenario.ChildArgument)
{
    // Hidden: the bulk scenario's writer child, run in a process of its own for its peak working set.
    return await BulkScenario.ChildAsync(args[1..]);
}
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(LabSettings.Usage);
    return 0;
}
LabSettings settings;
try
{
    settings = LabSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine("error: " + ex.Message);
    Console.Error.WriteLine(LabSettings.Usage);
    return 2;
}
return await PerformanceLab.RunAsync(settings);
