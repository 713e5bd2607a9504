namespace Dsql.Sync.Pipeline;

/// <summary>Reads and checks the <c>source:</c> section.</summary>
internal static class PostgresSourceReader
{
    public static PostgresSourceOptions? Read(PipelineSection section)
    {
        section.Secret("password");
        var type = section.Text("type", required: true, requiredBecause: "is required: set it to postgres.");
        if (type is not null && type != "postgres")
        {
            section.Refuse("type", type, "postgres (the only source dsql-sync reads)");
        }

        var name = section.Text("name");
        var hostname = section.Text("hostname", required: true, requiredBecause: "is required: the host name or address of the PostgreSQL server.");
        var port = (int)section.Number("port", PostgresSourceOptions.DefaultPort, 1, 65535, "a port number (1-65535)", out _);
        var username = section.Text("username", required: true, requiredBecause: "is required: the PostgreSQL role to read as.");
        var password = section.Text("password");
        var database = section.Text("database-name", required: true, requiredBecause: "is required: the database that holds the tables.");
        var schemas = Patterns(section, "schema-name");
        var tables = Patterns(section, "table-name");
        var slot = Identifier(section, "slot.name", "a replication slot name: lower-case letters, digits and underscores, at most 63");
        var publication = Identifier(section, "publication.name", "a publication name: at most 63 characters");
        var plugin = section.Text("decoding.plugin.name");
        if (plugin is not null && plugin != PostgresSourceOptions.DecodingPlugin)
        {
            section.Refuse("decoding.plugin.name", plugin, "pgoutput (PostgreSQL's built-in plugin, the only one dsql-sync decodes)");
        }
        section.RefuseUnread(FlinkOnly.Source, FlinkOnly.SourceByPrefix);

        return hostname is null || username is null || database is null || schemas is null || tables is null
            ? null
            : new PostgresSourceOptions(name, hostname, port, username, password, database, new TableSelection(schemas, tables), slot, publication);
    }

    private static string? Identifier(PipelineSection section, string key, string expectation)
    {
        var value = section.Text(key);
        bool slot = key == "slot.name";
        if (value is not null && (value.Length is 0 or > 63 || (slot && !value.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))))
        {
            section.Refuse(key, value, expectation);
            return null;
        }
        return value;
    }

    private static List<string>? Patterns(PipelineSection section, string key)
    {
        var patterns = new List<string>();
        bool valid = true;
        foreach (var (path, pattern) in section.List(key, required: true))
        {
            if (TableSelection.ProblemOf(pattern) is { } problem)
            {
                section.Problem(path, $"'{pattern}' is not accepted: expected a name or a .NET regular expression ({problem}).");
                valid = false;
            }
            else
            {
                patterns.Add(pattern);
            }
        }

        return valid && patterns.Count > 0 ? patterns : null;
    }
}
