using Dsql.Emulator.Backend;
using Dsql.Emulator.Protocol;

namespace Dsql.Emulator.Rules;

/// <summary>
/// Turns the backend's errors into DSQL's: PostgreSQL's write-write conflicts (serialization failure, deadlock,
/// lock wait timeout) become 40001 OC000; a cancellation the age supervisor caused becomes 54000; context that
/// would show the emulator's own helpers is removed.
/// </summary>
internal static class ErrorTranslator
{
    /// <summary>True for the PostgreSQL errors that stand for a DSQL write-write conflict.</summary>
    public static bool IsConflict(PgErrorFields fields)
    {
        string state = fields.SqlState;
        return state is PgConstants.SerializationFailure or PgConstants.DeadlockDetected
            || (state == PgConstants.LockNotAvailable && fields.Message.Contains("lock timeout", StringComparison.Ordinal));
    }

    /// <summary>
    /// Rewrites <paramref name="fields"/> in place; returns true when anything changed.
    /// <paramref name="transactionAgeLimit"/> is non-null when the error is the consequence of the age limit.
    /// </summary>
    public static bool Translate(PgErrorFields fields, TimeSpan? transactionAgeLimit)
    {
        bool changed = false;
        if (transactionAgeLimit is { } limit)
        {
            fields['C'] = PgConstants.ProgramLimitExceeded;
            fields['M'] = DsqlMessages.TransactionAge(limit);
            fields['D'] = null;
            changed = true;
        }
        else if (IsConflict(fields))
        {
            fields['C'] = PgConstants.SerializationFailure;
            fields['M'] = DsqlMessages.ConflictOc000;
            fields['D'] = null;
            fields['H'] = null;
            changed = true;
        }
        if (fields['W'] is { } where && where.Contains(BackendSchema.InternalPrefix, StringComparison.Ordinal))
        {
            // Hide the emulator's own helpers: DSQL's errors carry no such context.
            fields['W'] = null;
            fields['F'] = null;
            fields['L'] = null;
            fields['R'] = null;
            fields['q'] = null;
            fields['p'] = null;
            changed = true;
        }
        return changed;
    }
}
