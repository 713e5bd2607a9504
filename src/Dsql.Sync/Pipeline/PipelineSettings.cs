namespace Dsql.Sync.Pipeline;

/// <summary>The <c>pipeline:</c> section of a pipeline file (optional as a whole). Immutable.</summary>
public sealed class PipelineSettings
{
    /// <summary>The default of <c>pipeline.parallelism</c>, Flink's default parallelism.</summary>
    public const int DefaultParallelism = 1;

    internal PipelineSettings(string? name, int parallelism)
    {
        Name = name;
        Parallelism = parallelism;
    }

    /// <summary><c>pipeline.name</c>: the job's name in progress displays and logs, or null.</summary>
    public string? Name { get; }

    /// <summary><c>pipeline.parallelism</c>: tables loaded at the same time. Default <see cref="DefaultParallelism"/>.</summary>
    public int Parallelism { get; }
}
