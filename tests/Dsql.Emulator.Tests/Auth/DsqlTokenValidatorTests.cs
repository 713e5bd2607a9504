using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using Dsql.Emulator;
using Dsql.Emulator.Auth;
using Xunit;

namespace Dsql.Emulator.Tests.Auth;

public class DsqlTokenValidatorTests
{
    private const string Host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string Region = "us-east-1";
    private const string AccessKeyId = "AKIAIOSFODNN7EXAMPLE";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    private const string TempAccessKeyId = "ASIAIOSFODNN7EXAMPLE";
    private const string TempSecret = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";
    private const string SessionToken = "IQoJb3JpZ2luX2VjEXAMPLE//session+token/with=special&chars==";

    private static readonly DateTime SignedAt = new(2025, 3, 1, 10, 0, 0, DateTimeKind.Utc);
    private static readonly DateTimeOffset SignedAtOffset = new(SignedAt);
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(5);

    private static DsqlTokenValidator NewValidator() => new(
        new[]
        {
            new EmulatorAccessKey(AccessKeyId, Secret),
            new EmulatorAccessKey(TempAccessKeyId, TempSecret, SessionToken),
        },
        Skew);

    /// <summary>Presigns a DSQL token with AWSSDK.Core's own SigV4 signer (independent of the validator).</summary>
    private static string SdkToken(
        string action = "DbConnectAdmin",
        string host = Host,
        string region = Region,
        AWSCredentials? credentials = null,
        DateTime? signedAt = null,
        int expiresSeconds = 900)
    {
        var request = new AWSSigningRequest
        {
            HttpMethod = HttpMethod.Get,
            RequestUri = new Uri($"https://{host}/?Action={action}"),
        };
        var parameters = new AWSSigV4Parameters
        {
            Credentials = credentials ?? new BasicAWSCredentials(AccessKeyId, Secret),
            Region = RegionEndpoint.GetBySystemName(region),
            Service = "dsql",
            SignedAt = signedAt ?? SignedAt,
        };
        PresignResult result = AWSSigV4Signer.Presign(request, parameters, TimeSpan.FromSeconds(expiresSeconds));
        string url = result.Uri.AbsoluteUri;
        Assert.StartsWith("https://", url);
        return url.Substring("https://".Length);
    }

    private static string SignatureOf(string token)
    {
        int i = token.IndexOf("X-Amz-Signature=", StringComparison.Ordinal);
        Assert.True(i >= 0);
        return token.Substring(i + "X-Amz-Signature=".Length, 64);
    }

    private static string ReplaceParam(string token, string name, string newValue)
    {
        int start = token.IndexOf(name + "=", StringComparison.Ordinal);
        Assert.True(start >= 0, $"{name} not in token");
        int valueStart = start + name.Length + 1;
        int end = token.IndexOf('&', valueStart);
        if (end < 0)
        {
            end = token.Length;
        }

        return token.Substring(0, valueStart) + newValue + token.Substring(end);
    }

    private static string RemoveParam(string token, string name)
    {
        int start = token.IndexOf(name + "=", StringComparison.Ordinal);
        Assert.True(start >= 0, $"{name} not in token");
        int end = token.IndexOf('&', start);
        return end < 0
            ? token.Substring(0, start - 1)            // drop the preceding '&'
            : token.Substring(0, start) + token.Substring(end + 1);
    }

    private static void AssertNoSecrets(string? failure, string token)
    {
        Assert.NotNull(failure);
        Assert.DoesNotContain(Secret, failure);
        Assert.DoesNotContain(TempSecret, failure);
        Assert.DoesNotContain(SessionToken, failure);
        Assert.DoesNotContain(Uri.EscapeDataString(SessionToken), failure);
        if (token.Length > 0)
        {
            Assert.DoesNotContain(token, failure);
        }

        int sig = token.IndexOf("X-Amz-Signature=", StringComparison.Ordinal);
        if (sig >= 0 && token.Length >= sig + 16 + 64)
        {
            Assert.DoesNotContain(token.Substring(sig + 16, 64), failure, StringComparison.OrdinalIgnoreCase);
        }
    }

    private static TokenValidationResult Reject(string token, string user, DateTimeOffset now, string keyPhrase, string host = Host, string region = Region)
    {
        TokenValidationResult result = NewValidator().Validate(token, user, host, region, now);
        Assert.False(result.IsValid);
        Assert.NotNull(result.Failure);
        Assert.Contains(keyPhrase, result.Failure);
        AssertNoSecrets(result.Failure, token);
        return result;
    }

    // ------------------------------------------------------------------ AWSSDK.Core signer

    [Fact]
    public void SdkSignedAdminTokenValidates()
    {
        string token = SdkToken();
        Assert.StartsWith(Host + "/?", token);
        Assert.Contains("X-Amz-SignedHeaders=host", token);
        var result = NewValidator().Validate(token, "admin", Host, Region, SignedAtOffset);
        Assert.True(result.IsValid, result.Failure);
        Assert.Null(result.Failure);
        Assert.Equal(AccessKeyId, result.AccessKeyId);
    }

    [Fact]
    public void SdkSignedNonAdminTokenValidates()
    {
        string token = SdkToken(action: "DbConnect");
        var result = NewValidator().Validate(token, "app_user", Host, Region, SignedAtOffset.AddSeconds(60));
        Assert.True(result.IsValid, result.Failure);
    }

    [Fact]
    public void SdkSignedSessionTokenValidates()
    {
        string token = SdkToken(credentials: new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken));
        Assert.Contains("X-Amz-Security-Token=", token);
        var result = NewValidator().Validate(token, "admin", Host, Region, SignedAtOffset);
        Assert.True(result.IsValid, result.Failure);
        Assert.Equal(TempAccessKeyId, result.AccessKeyId);
    }

    [Fact]
    public void EndpointHostIsComparedCaseInsensitively()
    {
        string token = SdkToken();
        var result = NewValidator().Validate(token, "admin", Host.ToUpperInvariant(), Region, SignedAtOffset);
        Assert.True(result.IsValid, result.Failure);
    }

    [Fact]
    public void ParameterOrderDoesNotMatter()
    {
        string token = SdkToken();
        int q = token.IndexOf("/?", StringComparison.Ordinal);
        string[] parts = token.Substring(q + 2).Split('&');
        Array.Reverse(parts);
        string reordered = token.Substring(0, q + 2) + string.Join("&", parts);
        Assert.NotEqual(token, reordered);
        var result = NewValidator().Validate(reordered, "admin", Host, Region, SignedAtOffset);
        Assert.True(result.IsValid, result.Failure);
    }

    [Fact]
    public void LowerCasePercentEscapesAreAccepted()
    {
        // %2F and %2f decode to the same value and so must canonicalize the same.
        string token = SdkToken();
        string lowered = token.Replace("%2F", "%2f", StringComparison.Ordinal);
        Assert.NotEqual(token, lowered);
        var result = NewValidator().Validate(lowered, "admin", Host, Region, SignedAtOffset);
        Assert.True(result.IsValid, result.Failure);
    }

    // ------------------------------------------------------------------ AWS JavaScript signer vectors

    // Generated with @aws-sdk/dsql-signer 3.1142.0 (DsqlSigner, expiresIn 900, region us-east-1) with the clock
    // fixed at 2025-01-15T12:30:45Z, credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.
    private static readonly DateTimeOffset JsSignedAt = new(2025, 1, 15, 12, 30, 45, TimeSpan.Zero);
    private const string JsSessionToken = "FwoGZXIvYXdzEXAMPLE//session+token/with=chars";

    private const string JsAdminToken =
        "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws/?Action=DbConnectAdmin&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250115%2Fus-east-1%2Fdsql%2Faws4_request&X-Amz-Date=20250115T123045Z&X-Amz-Expires=900&X-Amz-Signature=4cfa84ed24400de553e8483db9bf73a2098812931a653f85ea2940808979dbdf&X-Amz-SignedHeaders=host";

    private const string JsConnectToken =
        "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws/?Action=DbConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250115%2Fus-east-1%2Fdsql%2Faws4_request&X-Amz-Date=20250115T123045Z&X-Amz-Expires=900&X-Amz-Signature=e3a4cae3236a822120ec26e3430c1fbc15f18b31702c586034dc812ce07220cc&X-Amz-SignedHeaders=host";

    private const string JsAdminSessionToken =
        "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws/?Action=DbConnectAdmin&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250115%2Fus-east-1%2Fdsql%2Faws4_request&X-Amz-Date=20250115T123045Z&X-Amz-Expires=900&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE%2F%2Fsession%2Btoken%2Fwith%3Dchars&X-Amz-Signature=223ba2abcba890b7dbce53d11597814638b143c1b49aceaf7b49e952d096712b&X-Amz-SignedHeaders=host";

    public static TheoryData<string, string, bool> JsVectors() => new()
    {
        { JsAdminToken, "admin", false },
        { JsConnectToken, "app", false },
        { JsAdminSessionToken, "admin", true },
    };

    private static DsqlTokenValidator JsValidator(bool withSession) => new(
        new[] { new EmulatorAccessKey(AccessKeyId, Secret, withSession ? JsSessionToken : null) },
        Skew);

    [Theory]
    [MemberData(nameof(JsVectors))]
    public void JsSignerVectorsValidateWithinTheirLifetime(string token, string user, bool withSession)
    {
        var validator = JsValidator(withSession);
        foreach (int offset in new[] { 0, 450, 900 })
        {
            var result = validator.Validate(token, user, Host, Region, JsSignedAt.AddSeconds(offset));
            Assert.True(result.IsValid, $"+{offset}s: {result.Failure}");
            Assert.Equal(AccessKeyId, result.AccessKeyId);
        }
    }

    [Theory]
    [MemberData(nameof(JsVectors))]
    public void JsSignerVectorsExpireAfter900Seconds(string token, string user, bool withSession)
    {
        var result = JsValidator(withSession).Validate(token, user, Host, Region, JsSignedAt.AddSeconds(901));
        Assert.False(result.IsValid);
        Assert.Contains("the token expired at 2025-01-15T12:45:45Z", result.Failure);
        Assert.Contains("valid for 900 s", result.Failure);
    }

    [Theory]
    [MemberData(nameof(JsVectors))]
    public void JsSignerVectorsFailWithAnotherSecret(string token, string user, bool withSession)
    {
        var validator = new DsqlTokenValidator(
            new[] { new EmulatorAccessKey(AccessKeyId, "not-the-right-secret", withSession ? JsSessionToken : null) },
            Skew);
        var result = validator.Validate(token, user, Host, Region, JsSignedAt);
        Assert.False(result.IsValid);
        Assert.Contains("the token signature does not match", result.Failure);
    }

    // ------------------------------------------------------------------ rejections

    [Fact]
    public void TamperedSignatureIsRejected()
    {
        string token = SdkToken();
        string sig = SignatureOf(token);
        string tampered = ReplaceParam(token, "X-Amz-Signature", (sig[0] == 'a' ? 'b' : 'a') + sig.Substring(1));
        Reject(tampered, "admin", SignedAtOffset, "the token signature does not match: check the secret access key");
        AssertNoSecrets(NewValidator().Validate(tampered, "admin", Host, Region, SignedAtOffset).Failure, token);
    }

    [Fact]
    public void NonHexSignatureIsRejected()
    {
        string token = SdkToken();
        Reject(ReplaceParam(token, "X-Amz-Signature", new string('z', 64)), "admin", SignedAtOffset, "X-Amz-Signature is not 64 hexadecimal digits");
        Reject(ReplaceParam(token, "X-Amz-Signature", "abc"), "admin", SignedAtOffset, "X-Amz-Signature is not 64 hexadecimal digits");
    }

    [Fact]
    public void WrongSecretIsRejected()
    {
        string token = SdkToken(credentials: new BasicAWSCredentials(AccessKeyId, "some/other/secret"));
        Reject(token, "admin", SignedAtOffset, "the token signature does not match: check the secret access key");
    }

    [Fact]
    public void AlteredSignedParameterIsRejectedBySignature()
    {
        // Expires is within range, so only the signature can catch the change.
        string token = ReplaceParam(SdkToken(), "X-Amz-Expires", "901");
        Reject(token, "admin", SignedAtOffset, "the token signature does not match");
    }

    [Fact]
    public void ExtraUnsignedParameterIsRejectedBySignature()
    {
        Reject(SdkToken() + "&Extra=1", "admin", SignedAtOffset, "the token signature does not match");
    }

    [Fact]
    public void HostMismatchIsRejected()
    {
        string token = SdkToken(host: "other.dsql.us-east-1.on.aws");
        var result = Reject(token, "admin", SignedAtOffset, "the token was signed for host 'other.dsql.us-east-1.on.aws', but this endpoint is '" + Host + "'");
        Assert.Null(result.AccessKeyId);
    }

    [Fact]
    public void TokenWithSchemeIsRejected()
    {
        Reject("https://" + SdkToken(), "admin", SignedAtOffset, "without the leading 'https://'");
    }

    [Fact]
    public void RegionMismatchIsRejected()
    {
        string token = SdkToken(region: "us-west-2");
        Reject(token, "admin", SignedAtOffset, "the token was signed for region 'us-west-2', but this endpoint is in region 'us-east-1'");
    }

    [Fact]
    public void AdminNeedsDbConnectAdmin()
    {
        string token = SdkToken(action: "DbConnect");
        Reject(token, "admin", SignedAtOffset, "user 'admin' needs a token for action DbConnectAdmin (IAM permission dsql:DbConnectAdmin); this token is for DbConnect");
    }

    [Fact]
    public void NonAdminNeedsDbConnect()
    {
        string token = SdkToken(action: "DbConnectAdmin");
        Reject(token, "app", SignedAtOffset, "user 'app' needs a token for action DbConnect (IAM permission dsql:DbConnect); this token is for DbConnectAdmin");
    }

    [Fact]
    public void AdminUserNameIsCaseSensitive()
    {
        Reject(SdkToken(action: "DbConnectAdmin"), "Admin", SignedAtOffset, "user 'Admin' needs a token for action DbConnect");
        Assert.True(NewValidator().Validate(SdkToken(action: "DbConnect"), "Admin", Host, Region, SignedAtOffset).IsValid);
    }

    [Fact]
    public void UnknownActionIsRejected()
    {
        Reject(SdkToken(action: "GetCluster"), "admin", SignedAtOffset, "the token's Action is 'GetCluster', which is neither DbConnect nor DbConnectAdmin");
    }

    [Fact]
    public void MissingActionIsRejected()
    {
        Reject(RemoveParam(SdkToken(), "Action"), "admin", SignedAtOffset, "missing the Action parameter");
    }

    [Theory]
    [InlineData("X-Amz-Algorithm")]
    [InlineData("X-Amz-Credential")]
    [InlineData("X-Amz-Date")]
    [InlineData("X-Amz-Expires")]
    [InlineData("X-Amz-SignedHeaders")]
    [InlineData("X-Amz-Signature")]
    public void MissingParameterIsNamed(string name)
    {
        Reject(RemoveParam(SdkToken(), name), "admin", SignedAtOffset, $"the token is missing the {name} parameter");
    }

    [Theory]
    [InlineData("Action", "DbConnectAdmin")]
    [InlineData("X-Amz-Signature", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("X-Amz-Date", "20250301T100000Z")]
    public void DuplicateParameterIsNamed(string name, string value)
    {
        Reject(SdkToken() + "&" + name + "=" + value, "admin", SignedAtOffset, $"the token has the parameter '{name}' more than once");
    }

    [Fact]
    public void WrongAlgorithmIsRejected()
    {
        Reject(ReplaceParam(SdkToken(), "X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256"), "admin", SignedAtOffset, "X-Amz-Algorithm is 'AWS4-ECDSA-P256-SHA256'; DSQL tokens must be signed with AWS4-HMAC-SHA256");
    }

    [Fact]
    public void SignedHeadersOtherThanHostAreRejected()
    {
        Reject(ReplaceParam(SdkToken(), "X-Amz-SignedHeaders", "host%3Bx-amz-date"), "admin", SignedAtOffset, "must sign exactly the host header (X-Amz-SignedHeaders=host)");
    }

    [Theory]
    [InlineData("AKIAIOSFODNN7EXAMPLE%2F20250301%2Fus-east-1%2Fdsql", "X-Amz-Credential is malformed")]
    [InlineData("AKIAIOSFODNN7EXAMPLE%2F2025031%2Fus-east-1%2Fdsql%2Faws4_request", "X-Amz-Credential is malformed")]
    [InlineData("%2F20250301%2Fus-east-1%2Fdsql%2Faws4_request", "X-Amz-Credential is malformed")]
    [InlineData("AKIAIOSFODNN7EXAMPLE%2F20250301%2Fus-east-1%2Frds-db%2Faws4_request", "signed for service 'rds-db', but DSQL tokens must be signed for service 'dsql'")]
    [InlineData("AKIAIOSFODNN7EXAMPLE%2F20250301%2Fus-east-1%2Fdsql%2Faws4_requests", "credential scope ends in 'aws4_requests' instead of 'aws4_request'")]
    [InlineData("AKIAIOSFODNN7EXAMPLE%2F20250302%2Fus-east-1%2Fdsql%2Faws4_request", "credential scope date 20250302 does not match the date of its X-Amz-Date")]
    public void BadCredentialScopeIsRejected(string credential, string phrase)
    {
        Reject(ReplaceParam(SdkToken(), "X-Amz-Credential", credential), "admin", SignedAtOffset, phrase);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("604801")]
    [InlineData("-5")]
    [InlineData("abc")]
    [InlineData("9.5")]
    [InlineData("")]
    [InlineData("99999999999999999999")]
    public void BadExpiresIsRejected(string expires)
    {
        Reject(ReplaceParam(SdkToken(), "X-Amz-Expires", expires), "admin", SignedAtOffset, "X-Amz-Expires '" + expires + "' is invalid; it must be an integer number of seconds from 1 to 604800");
    }

    [Fact]
    public void MaximumExpiryIsAccepted()
    {
        string token = SdkToken(expiresSeconds: 604800);
        Assert.Contains("X-Amz-Expires=604800", token);
        var validator = NewValidator();
        Assert.True(validator.Validate(token, "admin", Host, Region, SignedAtOffset.AddSeconds(604800)).IsValid);
        Assert.False(validator.Validate(token, "admin", Host, Region, SignedAtOffset.AddSeconds(604801)).IsValid);
    }

    [Theory]
    [InlineData("20250301100000Z")]
    [InlineData("20250301T100000")]
    [InlineData("20250301T250000Z")]
    [InlineData("2025-03-01T10:00:00Z")]
    public void MalformedDateIsRejected(string date)
    {
        Reject(ReplaceParam(SdkToken(), "X-Amz-Date", Uri.EscapeDataString(date)), "admin", SignedAtOffset, "X-Amz-Date '" + date + "' is malformed");
    }

    [Fact]
    public void UnknownAccessKeyIsRejected()
    {
        string token = SdkToken(credentials: new BasicAWSCredentials("AKIAUNKNOWNKEY000000", Secret));
        var result = Reject(token, "admin", SignedAtOffset, "unknown access key id 'AKIAUNKNOWNKEY000000'");
        Assert.Equal("AKIAUNKNOWNKEY000000", result.AccessKeyId);
    }

    [Fact]
    public void TemporaryKeyWithoutSessionTokenIsRejected()
    {
        string token = SdkToken(credentials: new BasicAWSCredentials(TempAccessKeyId, TempSecret));
        Reject(token, "admin", SignedAtOffset, "is a temporary credential: the token must be signed with its session token (X-Amz-Security-Token is missing)");
    }

    [Fact]
    public void WrongSessionTokenIsRejected()
    {
        string token = SdkToken(credentials: new SessionAWSCredentials(TempAccessKeyId, TempSecret, "another-session-token"));
        var result = Reject(token, "admin", SignedAtOffset, "X-Amz-Security-Token does not match the session token configured for access key 'ASIAIOSFODNN7EXAMPLE'");
        Assert.DoesNotContain("another-session-token", result.Failure);
    }

    [Fact]
    public void LongTermKeyWithSessionTokenIsRejected()
    {
        string token = SdkToken(credentials: new SessionAWSCredentials(AccessKeyId, Secret, "unexpected-session-token"));
        var result = Reject(token, "admin", SignedAtOffset, "is a long-term key without a session token, but the token carries X-Amz-Security-Token");
        Assert.DoesNotContain("unexpected-session-token", result.Failure);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("host/?")]
    [InlineData("/?Action=DbConnectAdmin")]
    [InlineData("host/?Action")]
    [InlineData("host/?=x")]
    [InlineData("host/?Action=DbConnect&&X-Amz-Date=1")]
    [InlineData("host/?Action=%zz")]
    [InlineData("host/?Action=%4")]
    [InlineData("host/?Action=%FF%FE")]
    [InlineData("md5d41d8cd98f00b204e9800998ecf8427e")]
    public void GarbageIsNotAToken(string password)
    {
        Reject(password, "admin", SignedAtOffset, $"the password is not a DSQL authentication token; sign one for host '{Host}' and region '{Region}'");
    }

    [Fact]
    public void VeryLongStringsAreRejected()
    {
        Reject(new string('a', 1_000_000), "admin", SignedAtOffset, "is not a DSQL authentication token");
        Reject(Host + "/?" + new string('a', 100_000), "admin", SignedAtOffset, "is not a DSQL authentication token");
        string manyParams = Host + "/?" + string.Join("&", Enumerable.Range(0, 500).Select(i => "p" + i + "=v"));
        Reject(manyParams, "admin", SignedAtOffset, "is not a DSQL authentication token");
        // A long (but plausible) host is truncated in the message rather than echoed in full.
        string longHost = new string('h', 5000);
        var result = Reject(longHost + SdkToken().Substring(Host.Length), "admin", SignedAtOffset, "the token was signed for host 'hhhh");
        Assert.True(result.Failure!.Length < 500);
    }

    // ------------------------------------------------------------------ time boundaries

    [Fact]
    public void ValidAtExactlyExpiryAndInvalidOneSecondLater()
    {
        string token = SdkToken(expiresSeconds: 900);
        var validator = NewValidator();
        var atExpiry = validator.Validate(token, "admin", Host, Region, SignedAtOffset.AddSeconds(900));
        Assert.True(atExpiry.IsValid, atExpiry.Failure);

        var after = validator.Validate(token, "admin", Host, Region, SignedAtOffset.AddSeconds(901));
        Assert.False(after.IsValid);
        Assert.Equal(
            "the token expired at 2025-03-01T10:15:00Z (signed at 2025-03-01T10:00:00Z, valid for 900 s); emulator clock is 2025-03-01T10:15:01Z; generate a fresh token",
            after.Failure);
    }

    [Fact]
    public void ExpiryDoesNotApplyClockSkew()
    {
        string token = SdkToken(expiresSeconds: 60);
        Reject(token, "admin", SignedAtOffset.AddSeconds(61), "the token expired at 2025-03-01T10:01:00Z");
    }

    [Fact]
    public void FutureDateWithinSkewIsAccepted()
    {
        string token = SdkToken(signedAt: SignedAt + Skew);
        var result = NewValidator().Validate(token, "admin", Host, Region, SignedAtOffset);
        Assert.True(result.IsValid, result.Failure);
    }

    [Fact]
    public void FutureDateBeyondSkewIsRejected()
    {
        string token = SdkToken(signedAt: SignedAt + Skew + TimeSpan.FromSeconds(1));
        Reject(token, "admin", SignedAtOffset, "the token is not valid yet: signed at 2025-03-01T10:05:01Z, emulator clock 2025-03-01T10:00:00Z");
    }

    [Fact]
    public void NowWithNonUtcOffsetIsHandled()
    {
        string token = SdkToken();
        var now = SignedAtOffset.ToOffset(TimeSpan.FromHours(-8)).AddSeconds(900);
        Assert.True(NewValidator().Validate(token, "admin", Host, Region, now).IsValid);
        Assert.False(NewValidator().Validate(token, "admin", Host, Region, now.AddSeconds(1)).IsValid);
    }

    [Fact]
    public void FarFutureDateDoesNotOverflow()
    {
        string token = ReplaceParam(
            ReplaceParam(SdkToken(), "X-Amz-Date", "99991231T235959Z"),
            "X-Amz-Credential",
            "AKIAIOSFODNN7EXAMPLE%2F99991231%2Fus-east-1%2Fdsql%2Faws4_request");
        Reject(token, "admin", SignedAtOffset, "the token is not valid yet");
        Reject(token, "admin", DateTimeOffset.MaxValue, "the token signature does not match");
    }

    // ------------------------------------------------------------------ construction and key hygiene

    [Fact]
    public void DuplicateAccessKeyIdsAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new DsqlTokenValidator(
            new[] { new EmulatorAccessKey("AKIADUPLICATE", "a"), new EmulatorAccessKey("AKIADUPLICATE", "b") },
            Skew));
        Assert.Contains("AKIADUPLICATE", ex.Message);
        Assert.DoesNotContain("'a'", ex.Message);
    }

    [Fact]
    public void AccessKeyToStringHidesSecrets()
    {
        var key = new EmulatorAccessKey(TempAccessKeyId, TempSecret, SessionToken);
        string text = key.ToString();
        Assert.Contains(TempAccessKeyId, text);
        Assert.DoesNotContain(TempSecret, text);
        Assert.DoesNotContain(SessionToken, text);
        Assert.DoesNotContain("SecretAccessKey", text);
    }

    [Fact]
    public void RepeatedValidationUsesConsistentSigningKeys()
    {
        var validator = NewValidator();
        string good = SdkToken();
        string bad = SdkToken(credentials: new BasicAWSCredentials(AccessKeyId, "wrong"));
        for (int i = 0; i < 3; i++)
        {
            Assert.True(validator.Validate(good, "admin", Host, Region, SignedAtOffset).IsValid);
            Assert.False(validator.Validate(bad, "admin", Host, Region, SignedAtOffset).IsValid);
        }
    }
}
