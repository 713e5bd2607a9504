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
        section.RefuseUnread(FlinkOnly.Source, FlinkOnly.SourceByPrefix);

        return hostname is null || username is null || database is null || schemas is null || tables is null
            ? null
            : new PostgresSourceOptions(name, hostname, port, username, password, database, new TableSelection(schemas, tables));
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
