using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// Reads the keys of one section of a pipeline file (<c>source:</c>, <c>sink:</c>, <c>pipeline:</c>), noting every
/// problem instead of stopping at the first, and remembering which keys were read so the rest can be refused.
/// </summary>
internal sealed class PipelineSection
{
    private readonly Dictionary<string, YamlNode> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly List<PipelineProblem> _problems;
    private readonly HashSet<string> _secrets = new(StringComparer.Ordinal);

    public PipelineSection(string name, YamlMappingNode? node, List<PipelineProblem> problems)
    {
        Name = name;
        _problems = problems;
        if (node is null)
        {
            return;
        }

        foreach (var (key, value) in node.Children)
        {
            if (key is YamlScalarNode { Value: { } text })
            {
                _values[text] = value;
            }
            else
            {
                Problem(name, $"a key at line {key.Start.Line} is not a plain name; keys are names such as 'host'.");
            }
        }
    }

    /// <summary>The section's name, the first part of every key path it reports.</summary>
    public string Name { get; }

    /// <summary>The key path of <paramref name="key"/> in this section.</summary>
    public string PathOf(string key) => $"{Name}.{key}";

    /// <summary>Notes a problem.</summary>
    public void Problem(string path, string message) => _problems.Add(new PipelineProblem(path, message));

    /// <summary>Whether a problem is already noted for <paramref name="path"/>.</summary>
    public bool HasProblem(string path) => _problems.Exists(p => p.Path == path);

    /// <summary>Whether any problem is noted for a key of this section.</summary>
    public bool HasProblems => _problems.Exists(p => p.Path == Name || p.Path.StartsWith(Name + ".", StringComparison.Ordinal));

    /// <summary>Marks keys whose values must never appear in a message.</summary>
    public void Secret(string key) => _secrets.Add(key);

    /// <summary>Whether the key is written with a value (an empty value, <c>~</c> or <c>null</c> counts as absent).</summary>
    public bool Has(string key) => _values.TryGetValue(key, out var node) && !IsNull(node);

    /// <summary>The text of a scalar key, or null when it is absent (a problem when <paramref name="required"/>).</summary>
    public string? Text(string key, bool required = false, string? requiredBecause = null)
    {
        _read.Add(key);
        if (!_values.TryGetValue(key, out var node) || IsNull(node))
        {
            if (required)
            {
                Problem(PathOf(key), requiredBecause ?? "is required.");
            }

            return null;
        }

        if (node is not YamlScalarNode scalar)
        {
            Problem(PathOf(key), $"is a {KindOf(node)} at line {node.Start.Line}, but it takes a single value.");
            return null;
        }

        var text = scalar.Value!.Trim();
        if (text.Length == 0)
        {
            if (required)
            {
                Problem(PathOf(key), "is empty: " + (requiredBecause ?? "it is required."));
            }

            return null;
        }

        return text;
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>, or <paramref name="fallback"/> when absent or bad.</summary>
    public long Number(string key, long fallback, long min, long max, string expectation, out bool valid)
    {
        valid = true;
        var text = Text(key);
        if (text is null)
        {
            return fallback;
        }

        if (long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) &&
            value >= min && value <= max)
        {
            return value;
        }

        valid = false;
        Refuse(key, text, expectation);
        return fallback;
    }

    /// <summary>A boolean (<c>true</c> or <c>false</c>, any case), or <paramref name="fallback"/> when absent or bad.</summary>
    public bool Flag(string key, bool fallback)
    {
        var text = Text(key);
        if (text is null)
        {
            return fallback;
        }

        if (bool.TryParse(text, out var value))
        {
            return value;
        }

        Refuse(key, text, "true or false");
        return fallback;
    }

    /// <summary>
    /// A list: a YAML sequence of names, or one value holding names separated by commas (the Flink CDC form).
    /// Each entry is trimmed; empty entries are problems.
    /// </summary>
    public IReadOnlyList<(string Path, string Value)> List(string key, bool required)
    {
        _read.Add(key);
        var entries = new List<(string, string)>();
        if (!_values.TryGetValue(key, out var node) || IsNull(node))
        {
            if (required)
            {
                Problem(PathOf(key), "is required.");
            }

            return entries;
        }

        switch (node)
        {
            case YamlScalarNode scalar:
                var parts = scalar.Value!.Split(',');
                for (int i = 0; i < parts.Length; i++)
                {
                    Add(entries, $"{PathOf(key)}[{i + 1}]", parts[i]);
                }

                break;
            case YamlSequenceNode sequence:
                int index = 0;
                foreach (var item in sequence.Children)
                {
                    index++;
                    if (item is YamlScalarNode { Value: { } text })
                    {
                        Add(entries, $"{PathOf(key)}[{index}]", text);
                    }
                    else
                    {
                        Problem($"{PathOf(key)}[{index}]", $"is a {KindOf(item)} at line {item.Start.Line}, but list entries are names or patterns.");
                    }
                }

                if (index == 0 && required)
                {
                    Problem(PathOf(key), "is an empty list: name at least one entry.");
                }

                break;
            default:
                Problem(PathOf(key), $"is a {KindOf(node)} at line {node.Start.Line}, but it takes a list: 'a,b' or a YAML sequence.");
                break;
        }

        return entries;
    }

    /// <summary>Notes a refused value: the key path, the value (hidden for secrets) and what is accepted.</summary>
    public void Refuse(string key, string value, string expectation) =>
        Problem(PathOf(key), _secrets.Contains(key)
            ? $"the value is not accepted: expected {expectation}."
            : $"'{value}' is not accepted: expected {expectation}.");

    /// <summary>
    /// Refuses every key that was not read: keys Flink CDC knows but dsql-sync does not use get
    /// <paramref name="notUsed"/>'s reason; other keys are listed with the keys this section accepts.
    /// </summary>
    public void RefuseUnread(IReadOnlyDictionary<string, string> notUsed, Func<string, string?> notUsedByPrefix)
    {
        foreach (var key in _values.Keys)
        {
            if (_read.Contains(key))
            {
                continue;
            }

            var reason = notUsed.GetValueOrDefault(key) ?? notUsedByPrefix(key);
            var flat = _read.Where(k => k.StartsWith(key + ".", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            if (reason is null && _values[key] is YamlMappingNode && flat.Count > 0)
            {
                Problem(PathOf(key), $"is written as a nested mapping; write its keys flat on one line each, as Flink CDC does " +
                    $"(such as '{flat[0]}: ...'). Accepted: {string.Join(", ", flat)}.");
                continue;
            }

            Problem(PathOf(key), reason is not null
                ? $"is a Flink CDC option that dsql-sync does not use ({reason}); remove it."
                : $"is not a key of '{Name}:'. Accepted keys: {string.Join(", ", _read.Order(StringComparer.Ordinal))}.");
        }
    }

    private void Add(List<(string, string)> entries, string path, string raw)
    {
        var text = raw.Trim();
        if (text.Length == 0)
        {
            Problem(path, "is empty: remove the stray comma or name a table.");
        }
        else
        {
            entries.Add((path, text));
        }
    }

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static string KindOf(YamlNode node) => node switch
    {
        YamlMappingNode => "mapping",
        YamlSequenceNode => "list",
        _ => "value",
    };
}
