using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// A pipeline file of the <c>dsql-sync</c> tool: the YAML format of the Flink CDC "Amazon DSQL" pipeline sink, with a
/// <c>source:</c> (type postgres), a <c>sink:</c> (type dsql) and an optional <c>pipeline:</c> section. Reading a file
/// checks everything it can without connecting, reports every problem at once (<see cref="PipelineFileException"/>)
/// and yields an immutable, validated definition.
/// </summary>
public sealed class PipelineDefinition
{
    private PipelineDefinition(PostgresSourceOptions source, DsqlSinkOptions sink, PipelineSettings pipeline)
    {
        Source = source;
        Sink = sink;
        Pipeline = pipeline;
    }

    /// <summary>The <c>source:</c> section: the PostgreSQL database and the tables to load.</summary>
    public PostgresSourceOptions Source { get; }

    /// <summary>The <c>sink:</c> section: the DSQL target and its connection pool.</summary>
    public DsqlSinkOptions Sink { get; }

    /// <summary>The <c>pipeline:</c> section: the job's name and parallelism (defaults when the section is absent).</summary>
    public PipelineSettings Pipeline { get; }

    /// <summary>Reads and validates the pipeline file at <paramref name="path"/>.</summary>
    /// <param name="path">The path of the YAML file.</param>
    /// <returns>The validated definition.</returns>
    /// <exception cref="PipelineFileException">The file has problems; every one is listed with its key path.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static PipelineDefinition Load(string path) => Load(path, []);

    /// <summary>
    /// Reads the pipeline file at <paramref name="path"/>, applies <paramref name="overrides"/> to it, and validates
    /// the result (see <see cref="Parse(string, string, IReadOnlyList{string})"/>).
    /// </summary>
    /// <param name="path">The path of the YAML file.</param>
    /// <param name="overrides">Overrides as the command line's <c>--set</c> takes them: <c>section.key=value</c>.</param>
    /// <returns>The validated definition.</returns>
    /// <exception cref="PipelineFileException">The file or an override has problems; every one is listed with its key path.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static PipelineDefinition Load(string path, IReadOnlyList<string> overrides)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(overrides);
        return Parse(File.ReadAllText(path), path, overrides);
    }

    /// <summary>Reads and validates the pipeline YAML in <paramref name="yaml"/>.</summary>
    /// <param name="yaml">The text of a pipeline file.</param>
    /// <param name="origin">Where the text came from, for the exception's message.</param>
    /// <returns>The validated definition.</returns>
    /// <exception cref="PipelineFileException">The text has problems; every one is listed with its key path.</exception>
    public static PipelineDefinition Parse(string yaml, string origin = "(text)") => Parse(yaml, origin, []);

    /// <summary>
    /// Reads the pipeline YAML in <paramref name="yaml"/>, applies <paramref name="overrides"/> to it, then validates
    /// the result as if the file said so: the same checks, the same key paths. Each override is
    /// <c>section.key=value</c> (<c>sink.wire-format=insert</c>, <c>pipeline.parallelism=4</c>); it sets the key, or
    /// adds it (and the section) when absent; an empty value removes the key's value. The key is everything after the
    /// section's dot, so <c>sink.type-mapping.json=text</c> sets <c>type-mapping.json</c>. An override without
    /// <c>=</c>, without a key, or naming a section other than source, sink and pipeline is a problem named
    /// <c>--set &lt;override&gt;</c>; a problem with an overridden value says it comes from <c>--set</c>.
    /// </summary>
    /// <param name="yaml">The text of a pipeline file.</param>
    /// <param name="origin">Where the text came from, for the exception's message.</param>
    /// <param name="overrides">The overrides, applied in order (a later one for the same key wins).</param>
    /// <returns>The validated definition.</returns>
    /// <exception cref="PipelineFileException">The text or an override has problems; every one is listed with its key path.</exception>
    public static PipelineDefinition Parse(string yaml, string origin, IReadOnlyList<string> overrides)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(overrides);
        var problems = new List<PipelineProblem>();
        var root = ReadRoot(yaml, problems);
        if (root is null)
        {
            throw new PipelineFileException(origin, problems);
        }

        var overridden = PipelineOverrides.Apply(root, overrides, problems);

        var sections = new Dictionary<string, YamlMappingNode?>(StringComparer.Ordinal);
        foreach (var (key, value) in root.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? "";
            switch (name)
            {
                case "source" or "sink" or "pipeline" when value is YamlMappingNode mapping:
                    sections[name] = mapping;
                    break;
                case "source" or "sink" or "pipeline":
                    problems.Add(new PipelineProblem(name, $"is not a mapping (line {value.Start.Line}): write its options indented below '{name}:'."));
                    sections[name] = null;
                    break;
                case "route" or "transform":
                    problems.Add(new PipelineProblem(name,
                        "is a Flink CDC section that dsql-sync does not use (tables keep their names; rows are copied as they are); remove it."));
                    break;
                default:
                    problems.Add(new PipelineProblem(name, "is not a section of a pipeline file. Accepted sections: source, sink, pipeline."));
                    break;
            }
        }

        foreach (var required in (string[])["source", "sink"])
        {
            if (!sections.ContainsKey(required))
            {
                problems.Add(new PipelineProblem(required, $"is missing: a pipeline file needs a '{required}:' section."));
            }
        }

        var source = PostgresSourceReader.Read(new PipelineSection("source", sections.GetValueOrDefault("source"), problems));
        var sink = DsqlSinkReader.Read(new PipelineSection("sink", sections.GetValueOrDefault("sink"), problems));
        var pipeline = ReadPipeline(new PipelineSection("pipeline", sections.GetValueOrDefault("pipeline"), problems));
        if (problems.Count > 0)
        {
            throw new PipelineFileException(origin, PipelineOverrides.Mark(problems, overridden));
        }

        return new PipelineDefinition(source!, sink!, pipeline);
    }

    private static YamlMappingNode? ReadRoot(string yaml, List<PipelineProblem> problems)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            var detail = ex.InnerException?.Message ?? ex.Message;
            problems.Add(new PipelineProblem($"(line {ex.Start.Line})", $"is not valid YAML: {detail}"));
            return null;
        }

        if (stream.Documents.Count != 1)
        {
            problems.Add(new PipelineProblem("(file)", stream.Documents.Count == 0
                ? "is empty: a pipeline file needs 'source:' and 'sink:' sections."
                : $"holds {stream.Documents.Count} YAML documents; a pipeline file is one document."));
            return null;
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            problems.Add(new PipelineProblem("(file)", "is not a mapping of sections: a pipeline file needs 'source:' and 'sink:' sections."));
            return null;
        }

        return root;
    }

    private static PipelineSettings ReadPipeline(PipelineSection section)
    {
        var name = section.Text("name");
        var parallelism = (int)section.Number("parallelism", PipelineSettings.DefaultParallelism, 1, 1024,
            "a number of tables loaded at once, from 1 to 1024", out _);
        var schemaChanges = Cdc.SchemaChangeBehavior.Apply;
        if (section.Text("schema.change.behavior") is { } behavior)
        {
            switch (behavior.ToLowerInvariant())
            {
                case "lenient" or "try_evolve" or "evolve":
                    break;
                case "exception":
                    schemaChanges = Cdc.SchemaChangeBehavior.Stop;
                    break;
                default:
                    section.Refuse("schema.change.behavior", behavior,
                        "lenient, try_evolve or evolve (a column added or dropped at the source is added or dropped on DSQL), or exception (the pipeline stops at it); " +
                        "ignore is not offered: later changes to a column DSQL lacks could not be applied");
                    break;
            }
        }
        section.RefuseUnread(FlinkOnly.Pipeline, _ => null);
        return new PipelineSettings(name, parallelism, schemaChanges);
    }
}
