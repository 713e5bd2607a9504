namespace Dsql.Connector;

/// <summary>
/// Thrown when no AWS credentials can be found to sign Aurora DSQL tokens, or when the credentials found can
/// no longer be used (for example temporary credentials that have already expired).
/// </summary>
/// <remarks>
/// The message says where credentials were looked for and how to provide them. It never contains secret keys,
/// session tokens or DSQL tokens.
/// </remarks>
public sealed class DsqlCredentialsException : Exception
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
}
