using System.Runtime.InteropServices;
using Dsql.Emulator.Backend;
using Dsql.Emulator.Tool.Cli;
using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Tool;

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
            foreach (string problem in ex.Problems) Console.Error.WriteLine($"error: {problem}");
            Console.Error.WriteLine("Run with --help for the options.");
            return 2;
        }
        if (commandLine.ShowHelp || commandLine.ShowVersion) return commandLine.ParseResult.Invoke();
        if (commandLine.Token is { } request)
        {
            Console.WriteLine(TokenSigner.Sign(request, DateTimeOffset.UtcNow));
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
            foreach (var fault in commandLine.Faults) fault.Apply(emulator);
            ReadyBanner.Write(Console.Out, emulator, commandLine.Options, ReadyBanner.SelfCommand(), commandLine.Faults);
            Console.Out.Flush();
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
