using Npgsql;

namespace Dsql.Sync.Pipeline;

/// <summary>
/// The <c>source:</c> section of a pipeline file: a PostgreSQL database, with the option names of Flink CDC's
/// postgres source (<c>hostname</c>, <c>port</c>, <c>username</c>, <c>password</c>, <c>database-name</c>,
/// <c>schema-name</c>, <c>table-name</c>). Immutable.
/// </summary>
public sealed class PostgresSourceOptions
{
    /// <summary>The default of <c>source.port</c>: PostgreSQL's port.</summary>
    public const int DefaultPort = 5432;

    /// <summary>The only logical decoding plugin dsql-sync reads: PostgreSQL's built-in <c>pgoutput</c>.</summary>
    public const string DecodingPlugin = "pgoutput";

    internal PostgresSourceOptions(string? name, string hostname, int port, string username, string? password,
        string databaseName, TableSelection tables, string? slotName = null, string? publicationName = null)
    {
        SlotName = slotName;
        PublicationName = publicationName;
        Name = name;
        Hostname = hostname;
        Port = port;
        Username = username;
        Password = password;
        DatabaseName = databaseName;
        Tables = tables;
    }

    /// <summary><c>source.name</c>: a label for the source in messages, or null.</summary>
    public string? Name { get; }

    /// <summary><c>source.hostname</c>: the host name or address of the PostgreSQL server. Required.</summary>
    public string Hostname { get; }

    /// <summary><c>source.port</c>: the server's port. Default <see cref="DefaultPort"/>.</summary>
    public int Port { get; }

    /// <summary><c>source.username</c>: the role to read as. Required.</summary>
    public string Username { get; }

    /// <summary><c>source.password</c>: the role's password, or null to use Npgsql's other sources (such as a pgpass file).</summary>
    public string? Password { get; }

    /// <summary><c>source.database-name</c>: the database to read. Required.</summary>
    public string DatabaseName { get; }

    /// <summary><c>source.schema-name</c> and <c>source.table-name</c>: the tables to load.</summary>
    public TableSelection Tables { get; }

    /// <summary>
    /// <c>source.slot.name</c>: the logical replication slot <c>dsql-sync run</c> reads changes from, or null for the
    /// default (<c>dsql_sync_</c> and the pipeline's name).
    /// </summary>
    public string? SlotName { get; }

    /// <summary><c>source.publication.name</c>: the publication of the selected tables, or null for the default (the slot's name).</summary>
    public string? PublicationName { get; }

    /// <summary>The Npgsql connection string that reaches the source database.</summary>
    /// <returns>Host, port, database, username and password (when given), with Application Name <c>dsql-sync</c>.</returns>
    public NpgsqlConnectionStringBuilder ToNpgsqlSettings()
    {
        var settings = new NpgsqlConnectionStringBuilder
        {
            Host = Hostname,
            Port = Port,
            Database = DatabaseName,
            Username = Username,
            ApplicationName = "dsql-sync",
        };
        if (Password is not null)
        {
            settings.Password = Password;
        }

        return settings;
    }

    /// <summary>The source as text for messages: host, port, database and user, never the password.</summary>
    /// <returns>For example <c>postgres source db.example.com:5432/shop as loader</c>.</returns>
    public override string ToString() => $"postgres source {Hostname}:{Port}/{DatabaseName} as {Username}";
}
