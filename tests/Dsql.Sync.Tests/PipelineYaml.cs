using System.Text;

namespace Dsql.Sync.Tests;

/// <summary>Builds pipeline files for tests: a valid file, with keys changed, added or removed per test.</summary>
internal static class PipelineYaml
{
    public const string Endpoint = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";

    /// <summary>The seed's example pipeline, verbatim (the Flink CDC DSQL connector's documentation).</summary>
    public const string SeedExample = """
        ################################################################################
        # Description: Sync tables from PostgreSQL to Amazon DSQL
        ################################################################################

        source:
          type: postgres
          hostname: localhost
          port: 5432
          username: postgres
          password: postgres
          database-name: postgres
          schema-name: public
          table-name: orders,products,customers

        sink:
          type: dsql
          host: my-dsql-cluster.amazonaws.com
          port: 5432
          database: my_database
          use-iam-auth: true
          region: us-west-2
          max-pool-size: 10
          min-pool-size: 2
          connection-max-lifetime-ms: 3540000  # 59 minutes
          connection-idle-timeout-ms: 300000   # 5 minutes
          enable-full-load: true
          parallelism: 4

        pipeline:
          name: PostgreSQL to DSQL Pipeline
          parallelism: 2
        """;

    /// <summary>
    /// A minimal valid file (IAM target), with <paramref name="changes"/> applied: <c>"sink.port"</c> = <c>"6543"</c>
    /// sets or adds a key, a null value removes it, and a value starting with a new line is written as a block.
    /// </summary>
    public static string Minimal(params (string Path, string? Value)[] changes)
    {
        var sections = new List<(string Name, List<(string Key, string Value)> Keys)>
        {
            ("source", [("type", "postgres"), ("hostname", "db.example.com"), ("username", "loader"),
                        ("database-name", "shop"), ("schema-name", "public"), ("table-name", "orders")]),
            ("sink", [("type", "dsql"), ("host", Endpoint)]),
        };
        foreach (var (path, value) in changes)
        {
            var dot = path.IndexOf('.', StringComparison.Ordinal);
            var (name, key) = (path[..dot], path[(dot + 1)..]);
            var section = sections.Find(s => s.Name == name).Keys;
            if (section is null)
            {
                section = [];
                sections.Add((name, section));
            }

            var index = section.FindIndex(k => k.Key == key);
            if (value is null)
            {
                if (index >= 0) section.RemoveAt(index);
            }
            else if (index >= 0)
            {
                section[index] = (key, value);
            }
            else
            {
                section.Add((key, value));
            }
        }

        var text = new StringBuilder();
        foreach (var (name, keys) in sections)
        {
            text.Append(name).Append(":\n");
            foreach (var (key, value) in keys)
            {
                text.Append("  ").Append(key).Append(':').Append(value.StartsWith('\n') ? value : " " + value).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>The repository's directory (holding samples/ and docs/), found upwards from the test binaries.</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !Directory.Exists(Path.Combine(directory.FullName, "samples", "pipelines")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException("samples/pipelines not found above " + AppContext.BaseDirectory);
    }
}
