// Connector benchmarks (BenchmarkDotNet). Results and the command are recorded in docs/performance.md.
//   ./build.sh bench-connector                      all
//   ./build.sh bench-connector --filter '*Token*'   one class
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
