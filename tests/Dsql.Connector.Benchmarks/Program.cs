// Connector benchmarks. Results and the commands are recorded in docs/performance.md.
//   ./build.sh bench connector                         every BenchmarkDotNet class
//   ./build.sh bench connector --filter '*Token*'      one class
//   ./build.sh bench connector contention [seconds]    the OCC contention harness (measured, not BenchmarkDotNet)
using BenchmarkDotNet.Running;
using Dsql.Connector.Benchmarks;

if (args.Length > 0 && args[0] == "contention")
{
    int seconds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
    await ContentionHarness.RunAsync(TimeSpan.FromSeconds(seconds));
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
