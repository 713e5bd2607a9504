namespace Dsql.Sync.Pipeline;

/// <summary>
/// Thrown when a pipeline file cannot be used. It lists every problem found, each naming its key path
/// (<c>sink.max-pool-size: ...</c>), the value (never a password) and what is accepted.
/// </summary>
public sealed class PipelineFileException : Exception
{
    /// <summary>Creates the exception for the problems of one file.</summary>
    /// <param name="origin">The file's path, or a description of where the text came from.</param>
    /// <param name="problems">The problems found; at least one.</param>
    public PipelineFileException(string origin, IReadOnlyList<PipelineProblem> problems)
        : base(Describe(origin, problems))
    {
        Origin = origin;
        Problems = Array.AsReadOnly(problems.ToArray());
    }

    /// <summary>The file's path, or a description of where the text came from.</summary>
    public string Origin { get; }

    /// <summary>Every problem found, in the order of the file's sections (source, sink, pipeline).</summary>
    public IReadOnlyList<PipelineProblem> Problems { get; }

    private static string Describe(string origin, IReadOnlyList<PipelineProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(problems);
        var noun = problems.Count == 1 ? "problem" : "problems";
        return $"The pipeline file {origin} has {problems.Count} {noun}:" + Environment.NewLine +
               string.Join(Environment.NewLine, problems.Select(p => "  " + p));
    }
}
