using Microsoft.Extensions.Logging;

namespace Dsql.Emulator.Tool.Cli;

/// <summary>A minimal console logger for the command-line host (the library itself logs through whatever factory it is given).</summary>
internal sealed class ConsoleLog(LogLevel minimum) : ILoggerFactory, ILogger
{
    private readonly object _gate = new();

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("The console log takes no providers.");

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        string line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel.ToString().ToLowerInvariant()[..4]} {formatter(state, exception)}";
        lock (_gate) Console.Error.WriteLine(exception is null ? line : line + Environment.NewLine + exception);
    }

    public void Dispose()
    {
    }
}
