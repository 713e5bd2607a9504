using System.Runtime.InteropServices;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Cli;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        CommandLine commandLine;
        try
        {
            commandLine = CommandLine.Parse(args);
        }
        catch (CommandLineException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }
        if (commandLine.ShowHelp)
        {
            Console.WriteLine(CommandLine.Usage);
            return 0;
        }

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
        using var loggerFactory = new ConsoleLog(commandLine.Verbose ? LogLevel.Debug : LogLevel.Warning);

        DsqlEmulator emulator;
        try
        {
            emulator = await DsqlEmulator.StartAsync(commandLine.Options, loggerFactory, stop.Token);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or PostgresNotFoundException or IOException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }

        await using (emulator)
        {
            foreach (var endpoint in emulator.Endpoints)
                Console.WriteLine($"endpoint {endpoint.Host} region={endpoint.Region} listening={endpoint.ListenAddress}:{endpoint.Port}");
            Console.WriteLine($"ca {emulator.CaCertificatePath}");
            var first = emulator.Endpoints[0];
            Console.WriteLine($"ready {first.ListenAddress}:{first.Port}");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
                Console.WriteLine("stopping");
            }
        }
        return 0;
    }
}
