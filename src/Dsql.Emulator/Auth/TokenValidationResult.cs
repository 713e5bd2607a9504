namespace Dsql.Emulator.Auth;

/// <summary>
/// The outcome of validating a DSQL authentication token.
/// </summary>
/// <param name="IsValid">Whether the token was accepted.</param>
/// <param name="Failure">
/// When <paramref name="IsValid"/> is <see langword="false"/>, a client-facing explanation of which check failed
/// and how to fix it. It never contains the token, its signature, a secret access key or a session token.
/// </param>
/// <param name="AccessKeyId">
/// The access key id named in the token's credential scope, once it could be parsed (also on failure, for
/// logging); <see langword="null"/> if the token was rejected before its credential scope was read.
/// </param>
internal readonly record struct TokenValidationResult(bool IsValid, string? Failure, string? AccessKeyId)
{
    internal static TokenValidationResult Success(string accessKeyId) => new(true, null, accessKeyId);

    internal static TokenValidationResult Fail(string failure, string? accessKeyId = null) => new(false, failure, accessKeyId);
}
