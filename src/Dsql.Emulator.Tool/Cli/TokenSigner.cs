using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;

namespace Dsql.Emulator.Tool.Cli;

/// <summary>
/// Signs DSQL authentication tokens for the <c>token</c> command with AWSSDK.Core's SigV4 presigner (the signer
/// Dsql.Connector and AWS's own tools use), not with the emulator's validator code.
/// </summary>
internal static class TokenSigner
{
    /// <summary>A token for <paramref name="request"/> signed at <paramref name="signedAt"/>: the presigned URL without its scheme.</summary>
    public static string Sign(TokenRequest request, DateTimeOffset signedAt)
    {
        string action = request.User == "admin" ? "DbConnectAdmin" : "DbConnect";
        var signingRequest = new AWSSigningRequest
        {
            HttpMethod = HttpMethod.Get,
            RequestUri = new Uri($"https://{request.Host}/?Action={action}"),
        };
        AWSCredentials credentials = request.Key.SessionToken is { } sessionToken
            ? new SessionAWSCredentials(request.Key.AccessKeyId, request.Key.SecretAccessKey, sessionToken)
            : new BasicAWSCredentials(request.Key.AccessKeyId, request.Key.SecretAccessKey);
        var parameters = new AWSSigV4Parameters
        {
            Credentials = credentials,
            Region = RegionEndpoint.GetBySystemName(request.Region),
            Service = "dsql",
            SignedAt = signedAt.UtcDateTime,
        };
        string url = AWSSigV4Signer.Presign(signingRequest, parameters, request.ExpiresIn).Uri.AbsoluteUri;
        return url["https://".Length..];
    }
}
