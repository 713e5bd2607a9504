using Microsoft.Extensions.Logging;

namespace Dsql.Emulator;

/// <summary>The job runner's log messages (event ids 100-199).</summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Debug, "Job {JobId} ({JobType}) started: {Statement}")]
    public static partial void JobStarted(ILogger logger, string jobId, string jobType, string statement);

    [LoggerMessage(101, LogLevel.Debug, "Job {JobId} ({JobType}) completed")]
    public static partial void JobCompleted(ILogger logger, string jobId, string jobType);

    [LoggerMessage(102, LogLevel.Information, "Job {JobId} ({JobType}) {Status}: {Details}")]
    public static partial void JobFailed(ILogger logger, string jobId, string jobType, string status, string details);

    [LoggerMessage(103, LogLevel.Warning, "Job runner: {Reason}")]
    public static partial void JobRunnerFailed(ILogger logger, string reason);
}
