using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// A statement, transaction or connection attempt ran into one of Aurora DSQL's quotas (SQLSTATE 54000, 54011,
/// 53200, 53300 or 53400). The message names the limit and its value, says what to do, and ends with the server's
/// own text; the server's error is <see cref="PostgresException"/> and the inner exception.
/// </summary>
/// <remarks>Obtain one from a server error with <see cref="DsqlErrors.Translate(Exception)"/>.</remarks>
public sealed class DsqlLimitExceededException : NpgsqlException
{
    internal DsqlLimitExceededException(DsqlLimit limit, PostgresException inner)
        : this(limit, inner, DsqlLimitText.Describe(limit, inner.MessageText))
    {
    }

    private DsqlLimitExceededException(DsqlLimit limit, PostgresException inner, DsqlLimitText.Text text)
        : base($"{text.What} {text.Advice} ({inner.SqlState}: {inner.MessageText})", inner)
    {
        Limit = limit;
        LimitDescription = text.Description;
        SqlState = inner.SqlState;
        PostgresException = inner;
    }

    /// <summary>The limit that was exceeded.</summary>
    public DsqlLimit Limit { get; }

    /// <summary>
    /// The limit and its value, for example "3,000 rows modified per transaction". The value is read from the
    /// server's message when it carries one, otherwise it is DSQL's published default.
    /// </summary>
    public string LimitDescription { get; }

    /// <summary>The SQLSTATE the server answered, for example <c>54000</c>.</summary>
    public override string SqlState { get; }

    /// <summary>The server's error, also the <see cref="Exception.InnerException"/>.</summary>
    public PostgresException? PostgresException { get; }
}
