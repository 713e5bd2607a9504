using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;

namespace Dsql.Emulator.Tests.Infrastructure;

/// <summary>
/// Signs DSQL tokens with AWSSDK.Core's own SigV4 presigner, so that the emulator's validator is tested against
/// an implementation it shares nothing with.
/// </summary>
internal static class TestTokens
{
    public const string AccessKeyId = DsqlEmulatorOptions.ExampleAccessKeyId;
    public const string Secret = DsqlEmulatorOptions.ExampleSecretAccessKey;

    public static string Sign(string host, string region, string user, DateTimeOffset signedAt, int expiresSeconds = 900,
        string accessKeyId = AccessKeyId, string secret = Secret, string? sessionToken = null, string? action = null)
    {
        action ??= user == "admin" ? "DbConnectAdmin" : "DbConnect";
        var request = new AWSSigningRequest
        {
            HttpMethod = HttpMethod.Get,
            RequestUri = new Uri($"https://{host}/?Action={action}"),
        };
        AWSCredentials credentials = sessionToken is null
            ? new BasicAWSCredentials(accessKeyId, secret)
            : new SessionAWSCredentials(accessKeyId, secret, sessionToken);
        var parameters = new AWSSigV4Parameters
        {
            Credentials = credentials,
            Region = RegionEndpoint.GetBySystemName(region),
            Service = "dsql",
            SignedAt = signedAt.UtcDateTime,
        };
        string url = AWSSigV4Signer.Presign(request, parameters, TimeSpan.FromSeconds(expiresSeconds)).Uri.AbsoluteUri;
        return url["https://".Length..];
    }

    /// <summary>A token valid now (on the emulator's clock) for an endpoint.</summary>
    public static string For(DsqlEmulator emulator, EmulatorEndpointInfo endpoint, string user = "admin")
        => Sign(endpoint.Host, endpoint.Region, user, emulator.Clock.GetUtcNow());
}
