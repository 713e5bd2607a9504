using System.Globalization;
using System.Text;

namespace Dsql.Connector;

/// <summary>
/// An Aurora DSQL authentication token together with the moment it was signed and the moment it stops
/// being accepted.
/// </summary>
/// <remarks>
/// The token is a credential: <see cref="ToString"/> (and the record's generated member printing) never
/// includes <see cref="Value"/>, so a token logged by accident only shows its lifetime.
/// </remarks>
/// <param name="Value">The token, used as the PostgreSQL password. Treat it as a secret.</param>
/// <param name="SignedAt">When the token was signed (whole seconds, UTC).</param>
/// <param name="ExpiresAt">
/// When the token stops being accepted for new connections: <see cref="SignedAt"/> plus the token's
/// effective <c>X-Amz-Expires</c> (already shortened when the signing credentials expire sooner).
/// </param>
public readonly record struct DsqlToken(string Value, DateTimeOffset SignedAt, DateTimeOffset ExpiresAt)
{
    /// <summary>The lifetime the token was signed with (<see cref="ExpiresAt"/> minus <see cref="SignedAt"/>).</summary>
    public TimeSpan Lifetime => ExpiresAt - SignedAt;

    /// <summary>Whether the token is past its expiry at <paramref name="now"/>.</summary>
    /// <param name="now">The current time.</param>
    /// <returns><see langword="true"/> when <paramref name="now"/> is at or after <see cref="ExpiresAt"/>.</returns>
    public bool IsExpiredAt(DateTimeOffset now) => now >= ExpiresAt;

    /// <summary>Describes the token's lifetime without revealing its value.</summary>
    /// <returns>For example <c>DSQL token, signed 2026-01-15T12:30:45Z, expires 2026-01-15T12:45:45Z</c>.</returns>
    public override string ToString()
    {
        var builder = new StringBuilder(80);
        builder.Append("DSQL token, ");
        PrintMembers(builder);
        return builder.ToString();
    }

    // Replaces the compiler-generated member printer, which would print Value.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("signed ").Append(Format(SignedAt)).Append(", expires ").Append(Format(ExpiresAt));
        return true;
    }

    private static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
