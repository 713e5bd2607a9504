namespace Dsql.Sync.Pipeline;

/// <summary>The <c>pipeline:</c> section of a pipeline file (optional as a whole). Immutable.</summary>
public sealed class PipelineSettings
{
    /// <summary>The default of <c>pipeline.parallelism</c>, Flink's default parallelism.</summary>
    public const int DefaultParallelism = 1;

    internal PipelineSettings(string? name, int parallelism, Cdc.SchemaChangeBehavior schemaChanges = Cdc.SchemaChangeBehavior.Apply)
    {
        Name = name;
        Parallelism = parallelism;
        SchemaChanges = schemaChanges;
    }

    /// <summary>
    /// <c>pipeline.schema.change.behavior</c> (Flink CDC's values): <c>lenient</c> (the default), <c>try_evolve</c>
    /// and <c>evolve</c> apply a column added or dropped at the source to DSQL (<see cref="Cdc.SchemaChangeBehavior.Apply"/>);
    /// <c>exception</c> stops the pipeline at it (<see cref="Cdc.SchemaChangeBehavior.Stop"/>). <c>ignore</c> is refused:
    /// changes to a column DSQL does not have could not be applied.
    /// </summary>
    public Cdc.SchemaChangeBehavior SchemaChanges { get; }

    /// <summary><c>pipeline.name</c>: the job's name in progress displays and logs, or null.</summary>
    public string? Name { get; }

    /// <summary><c>pipeline.parallelism</c>: tables loaded at the same time. Default <see cref="DefaultParallelism"/>.</summary>
    public int Parallelism { get; }
}
