namespace Dsql.Emulator;

/// <summary>
/// DSQL's wording for the errors the emulator raises itself (see shared facts and conformance recordings). Limits in
/// the messages come from the emulator's options, whose defaults are <see cref="DsqlQuotas"/>.
/// </summary>
internal static class DsqlMessages
{
    public const string RateExceeded = "Unable to accept connection, rate exceeded.";
    public const string TooManyConnections = "Unable to accept connection, too many open connections.";
    public const string ConflictOc000 = "change conflicts with another transaction (OC000)";
    public const string SchemaChangedOc001 = "schema has been updated by another transaction, please retry: (OC001)";
    public const string MultipleDdl = "multiple ddl statements not supported in a transaction";
    public const string DdlAndDml = "ddl and dml are not supported in the same transaction";
    /// <summary>XX000: what DSQL answers during a Region impairment (shared facts; the conformance recordings have no sample).</summary>
    public const string ServerUnavailable = "server unavailable";
    /// <summary>57P01: PostgreSQL's wording for a session ended by the server.</summary>
    public const string AdministratorCommand = "terminating connection due to administrator command";
    public const string TlsRequired = "SSL/TLS required: Aurora DSQL accepts only encrypted connections; connect with SSL Mode=Require or stronger (VerifyFull recommended)";

    /// <summary>54000 for a transaction older than <paramref name="limit"/> (DSQL: <see cref="DsqlQuotas.MaxTransactionAge"/>).</summary>
    public static string TransactionAge(TimeSpan limit) => $"transaction age limit of {(long)limit.TotalSeconds}s exceeded";

    /// <summary>Why a connection older than <paramref name="limit"/> (DSQL: <see cref="DsqlQuotas.MaxConnectionAge"/>) is closed.</summary>
    public static string ConnectionAge(TimeSpan limit) => limit.TotalMinutes >= 1 && limit.TotalMinutes % 1 == 0
        ? $"connection age limit of {(long)limit.TotalMinutes} minutes exceeded; open a new connection"
        : $"connection age limit of {(long)limit.TotalSeconds}s exceeded; open a new connection";
}
