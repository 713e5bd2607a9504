using System.Runtime.InteropServices;

namespace Dsql.Sync.Tool;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
        return await SyncTool.RunAsync(args, Console.Out, Console.Error, new SyncToolHooks(), stop.Token);
    }
}
