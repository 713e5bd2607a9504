namespace Dsql.Emulator;

/// <summary>
/// An IAM access key the emulator accepts when it validates DSQL authentication tokens.
/// </summary>
/// <param name="AccessKeyId">The access key id (for example <c>AKIAIOSFODNN7EXAMPLE</c>); not a secret.</param>
/// <param name="SecretAccessKey">The secret access key the token's SigV4 signature is checked against.</param>
/// <param name="SessionToken">
/// The session token of temporary credentials, or <see langword="null"/> for a long-term key. When set, a token
/// must carry exactly this value in its <c>X-Amz-Security-Token</c> parameter; when <see langword="null"/>, a
/// token that carries a session token is rejected.
/// </param>
public sealed record EmulatorAccessKey(string AccessKeyId, string SecretAccessKey, string? SessionToken = null)
{
    /// <summary>
    /// Returns a description that names only the access key id; the secret access key and the session token
    /// are never included.
    /// </summary>
    /// <returns>A string of the form <c>EmulatorAccessKey { AccessKeyId = ... }</c>.</returns>
    public override string ToString() => "EmulatorAccessKey { AccessKeyId = " + AccessKeyId + " }";
}
