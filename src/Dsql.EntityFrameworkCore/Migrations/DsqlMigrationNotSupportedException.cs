namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>
/// A migration operation DSQL cannot run, refused when the migration's SQL is generated (before anything runs). The
/// message names the operation, the table or column, and what to do instead.
/// </summary>
public sealed class DsqlMigrationNotSupportedException : NotSupportedException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was refused, where, and what to do.</param>
    public DsqlMigrationNotSupportedException(string message)
        : base(message)
    {
    }
}
