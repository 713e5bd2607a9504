using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// Applies <c>--set section.key=value</c> overrides to a pipeline file's YAML before it is checked, so that an
/// overridden value passes the same checks, under the same key path, as one written in the file.
/// </summary>
internal static class PipelineOverrides
{
    private static readonly string[] Sections = ["source", "sink", "pipeline"];

    /// <summary>Sets each override in <paramref name="root"/>; returns the key paths set.</summary>
    public static HashSet<string> Apply(YamlMappingNode root, IReadOnlyList<string> overrides, List<PipelineProblem> problems)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in overrides)
        {
            string name = "--set " + text;
            int equals = text.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                problems.Add(new PipelineProblem(name, "has no '=': write --set section.key=value, such as --set sink.wire-format=insert."));
                continue;
            }

            string path = text[..equals].Trim();
            string value = text[(equals + 1)..].Trim();
            int dot = path.IndexOf('.', StringComparison.Ordinal);
            string section = dot < 0 ? path : path[..dot];
            string key = dot < 0 ? "" : path[(dot + 1)..].Trim();
            if (!Sections.Contains(section, StringComparer.Ordinal))
            {
                problems.Add(new PipelineProblem(name,
                    $"names the section '{section}', which does not exist: the sections are source, sink and pipeline (--set sink.parallelism=4)."));
                continue;
            }

            if (key.Length == 0)
            {
                problems.Add(new PipelineProblem(name, $"names no key: write --set {section}.key=value."));
                continue;
            }

            var sectionKey = new YamlScalarNode(section);
            if (!root.Children.TryGetValue(sectionKey, out var node) || IsEmpty(node))
            {
                node = new YamlMappingNode();
                root.Children[sectionKey] = node;
            }

            if (node is not YamlMappingNode mapping)
            {
                problems.Add(new PipelineProblem(name, $"cannot be applied: '{section}:' in the file is not a mapping of keys."));
                continue;
            }

            mapping.Children[new YamlScalarNode(key)] = new YamlScalarNode(value) { Style = ScalarStyle.Plain };
            paths.Add(section + "." + key);
        }

        return paths;
    }

    /// <summary>The problems, those about an overridden key saying so.</summary>
    public static List<PipelineProblem> Mark(List<PipelineProblem> problems, HashSet<string> overridden)
        => overridden.Count == 0
            ? problems
            : problems.Select(p => overridden.Contains(p.Path) ? new PipelineProblem(p.Path, p.Message + " (The value comes from --set.)") : p).ToList();

    private static bool IsEmpty(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" };
}
