namespace Dsql.EntityFrameworkCore.Metadata;

/// <summary>
/// A model feature DSQL cannot store (an array or enum column, a type outside DSQL's allow-list, a non-bigint
/// identity), refused when the model is built. The message names the entity type, the property and the choices.
/// </summary>
public sealed class DsqlModelNotSupportedException : NotSupportedException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was refused, where, and the choices.</param>
    public DsqlModelNotSupportedException(string message)
        : base(message)
    {
    }
}
