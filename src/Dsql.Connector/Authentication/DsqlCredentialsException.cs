using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// Thrown when no AWS credentials can be found to sign Aurora DSQL tokens, or when the credentials found can
/// no longer be used (for example temporary credentials that have already expired).
/// </summary>
/// <remarks>
/// <para>
/// The message is short: where credentials were looked for and how to provide them. What the AWS SDK reported is
/// the <see cref="Exception.InnerException"/>. Neither ever contains secret keys, session tokens or DSQL tokens.
/// </para>
/// <para>
/// It is an <see cref="NpgsqlException"/> (so a <see cref="System.Data.Common.DbException"/>) because it is what
/// opening a connection reports when no token can be signed: code that catches database errors around an open
/// catches it too. It is never transient: another attempt fails the same way until the credentials are fixed.
/// Npgsql wraps an exception thrown by a password provider in its own; <see cref="DsqlExceptionExtensions.ToDsqlException"/>
/// takes this one back out.
/// </para>
/// </remarks>
public sealed class DsqlCredentialsException : NpgsqlException
{
    /// <summary>Creates the exception with a default message.</summary>
    public DsqlCredentialsException()
        : base("No usable AWS credentials were found to sign Aurora DSQL authentication tokens.")
    {
    }

    /// <summary>Creates the exception with the given message.</summary>
    /// <param name="message">What went wrong and how to fix it.</param>
    public DsqlCredentialsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the given message and the AWS SDK's own exception.</summary>
    /// <param name="message">What went wrong and how to fix it.</param>
    /// <param name="innerException">The exception raised while resolving the credentials, if any.</param>
    public DsqlCredentialsException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The named profile that was looked for, or <see langword="null"/> for the default chain.</summary>
    public string? Profile { get; init; }

    /// <summary>Always <see langword="false"/>: retrying does not help until the credentials are fixed.</summary>
    public override bool IsTransient => false;
}
