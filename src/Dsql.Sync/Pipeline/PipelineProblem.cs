namespace Dsql.Sync.Pipeline;

/// <summary>One problem of a pipeline file: the key path at fault and what is wrong with it.</summary>
public sealed class PipelineProblem
{
    /// <summary>Creates a problem.</summary>
    /// <param name="path">The key path, such as <c>sink.max-pool-size</c>, or <c>(file)</c> for the file as a whole.</param>
    /// <param name="message">What is wrong: the value (never a password) and what is accepted.</param>
    public PipelineProblem(string path, string message)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(message);
        Path = path;
        Message = message;
    }

    /// <summary>The key path at fault, such as <c>sink.max-pool-size</c> or <c>source.table-name[2]</c>.</summary>
    public string Path { get; }

    /// <summary>What is wrong and what is accepted.</summary>
    public string Message { get; }

    /// <summary>The problem as <c>path: message</c>.</summary>
    /// <returns>The key path, a colon and the message.</returns>
    public override string ToString() => $"{Path}: {Message}";
}
