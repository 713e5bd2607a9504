namespace Dsql.Connector;

/// <summary>
/// Thrown when a DSQL connection setting is missing, malformed, out of range or not allowed.
/// The message names the setting and the offending value (never a password or a token) and says what to change.
/// </summary>
public sealed class DsqlConfigurationException : ArgumentException
{
    /// <summary>Creates the exception for the given setting.</summary>
    /// <param name="setting">
    /// The setting at fault: the property name on <see cref="DsqlConnectionStringBuilder"/> (for example
    /// <c>Port</c> or <c>TokenLifetime</c>), the Npgsql property name for a keyword passed through to Npgsql
    /// (for example <c>KeepAlive</c>), or the keyword as written when it is not known at all.
    /// </param>
    /// <param name="message">What is wrong and how to fix it.</param>
    public DsqlConfigurationException(string setting, string message)
        : base(message)
    {
        Setting = setting;
    }

    /// <summary>Creates the exception for the given setting, keeping the exception that revealed the problem.</summary>
    /// <param name="setting">The setting at fault (see <see cref="DsqlConfigurationException(string, string)"/>).</param>
    /// <param name="message">What is wrong and how to fix it.</param>
    /// <param name="innerException">The exception that revealed the problem.</param>
    public DsqlConfigurationException(string setting, string message, Exception? innerException)
        : base(message, innerException)
    {
        Setting = setting;
    }

    /// <summary>
    /// The setting at fault: a <see cref="DsqlConnectionStringBuilder"/> property name such as <c>Port</c>,
    /// <c>Region</c> or <c>SslMode</c>; an Npgsql property name such as <c>Enlist</c> or <c>KeepAlive</c> for
    /// keywords passed through to Npgsql; or the keyword as written when it is unknown.
    /// </summary>
    public string Setting { get; }
}
