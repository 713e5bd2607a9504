using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;
using Dsql.Connector.Tests.Infrastructure;

namespace Dsql.Connector.Tests;

public class TokenGeneratorTests
{
    private const string Host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string Region = "us-east-1";
    private const string AccessKeyId = "AKIAIOSFODNN7EXAMPLE";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    private const string TempAccessKeyId = "ASIAIOSFODNN7EXAMPLE";
    private const string TempSecret = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";
    private const string SessionToken = "IQoJb3JpZ2luX2VjEXAMPLE//session+token/with=special&chars==";

    private static readonly DateTimeOffset Now = new(2025, 3, 1, 10, 0, 0, TimeSpan.Zero);

    private static DsqlTokenGenerator NewGenerator(AWSCredentials? credentials = null, DateTimeOffset? now = null) =>
        new(credentials ?? new BasicAWSCredentials(AccessKeyId, Secret), new FixedTimeProvider(now ?? Now));

    // ------------------------------------------------------------------ helpers

    private static (string Host, List<KeyValuePair<string, string>> Parameters) Parse(string token)
    {
        int separator = token.IndexOf("/?", StringComparison.Ordinal);
        Assert.True(separator > 0, "token has no '/?'");
        var parameters = new List<KeyValuePair<string, string>>();
        foreach (string pair in token.Substring(separator + 2).Split('&'))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            Assert.True(eq > 0, $"malformed parameter '{pair}'");
            parameters.Add(new(pair.Substring(0, eq), pair.Substring(eq + 1)));
        }

        return (token.Substring(0, separator), parameters);
    }

    private static Dictionary<string, string> ParameterSet(string token)
    {
        var (_, parameters) = Parse(token);
        var set = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in parameters)
        {
            Assert.True(set.TryAdd(name, value), $"parameter {name} appears twice");
        }

        return set;
    }

    private static string Param(string token, string name) => ParameterSet(token)[name];

    /// <summary>Presigns with AWSSDK.Core's own SigV4 signer (independent of the generator).</summary>
    private static string SdkToken(string action, AWSCredentials credentials, DateTimeOffset signedAt, int expiresSeconds, string host = Host, string region = Region)
    {
        var request = new AWSSigningRequest
        {
            HttpMethod = HttpMethod.Get,
            RequestUri = new Uri($"https://{host}/?Action={action}"),
        };
        var parameters = new AWSSigV4Parameters
        {
            Credentials = credentials,
            Region = RegionEndpoint.GetBySystemName(region),
            Service = "dsql",
            SignedAt = signedAt.UtcDateTime,
        };
        string url = AWSSigV4Signer.Presign(request, parameters, TimeSpan.FromSeconds(expiresSeconds)).Uri.AbsoluteUri;
        Assert.StartsWith("https://", url);
        return url.Substring("https://".Length);
    }

    // ------------------------------------------------------------------ (a) AWSSDK.Core signer

    public static TheoryData<string, bool, int> SdkCases() => new()
    {
        { "admin", false, 900 },
        { "app_user", false, 900 },
        { "admin", true, 900 },
        { "reader", true, 3600 },
        { "admin", false, 1 },
        { "admin", false, 604_800 },
    };

    [Theory]
    [MemberData(nameof(SdkCases))]
    public void MatchesAwsSdkCoreSigner(string user, bool temporary, int expiresSeconds)
    {
        AWSCredentials credentials = temporary
            ? new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)
            : new BasicAWSCredentials(AccessKeyId, Secret);
        string action = user == "admin" ? "DbConnectAdmin" : "DbConnect";

        DsqlToken token = NewGenerator(credentials).Generate(Host, Region, user, TimeSpan.FromSeconds(expiresSeconds));
        string expected = SdkToken(action, credentials, Now, expiresSeconds);

        Assert.Equal(Parse(expected).Host, Parse(token.Value).Host);
        var ours = ParameterSet(token.Value);
        var sdk = ParameterSet(expected);
        Assert.Equal(sdk.OrderBy(p => p.Key, StringComparer.Ordinal), ours.OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Equal(sdk["X-Amz-Signature"], ours["X-Amz-Signature"]);
        Assert.Equal(temporary, ours.ContainsKey("X-Amz-Security-Token"));
    }

    [Fact]
    public void MatchesAwsSdkCoreSignerAtAnotherTimeAndRegion()
    {
        var at = new DateTimeOffset(2026, 12, 31, 23, 59, 59, TimeSpan.Zero);
        const string host = "a1b2c3d4e5f6g7h8i9j0k1l2m3.dsql.eu-west-1.on.aws";
        var credentials = new BasicAWSCredentials(AccessKeyId, Secret);
        string ours = NewGenerator(credentials, at).GenerateToken(host, "eu-west-1", "admin");
        string sdk = SdkToken("DbConnectAdmin", credentials, at, 900, host, "eu-west-1");
        Assert.Equal(ParameterSet(sdk).OrderBy(p => p.Key, StringComparer.Ordinal), ParameterSet(ours).OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    // ------------------------------------------------------------------ (b) AWS JavaScript signer vectors

    // Generated with @aws-sdk/dsql-signer 3.1142.0 (DsqlSigner, expiresIn 900, region us-east-1) with the clock
    // fixed at 2025-01-15T12:30:45Z, credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
    // (the same vectors as the emulator's validator tests).
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

    [Theory]
    [MemberData(nameof(JsVectors))]
    public async Task ReproducesJavaScriptSignerVectors(string jsToken, string user, bool withSession)
    {
        AWSCredentials credentials = withSession
            ? new SessionAWSCredentials(AccessKeyId, Secret, JsSessionToken)
            : new BasicAWSCredentials(AccessKeyId, Secret);
        var generator = new DsqlTokenGenerator(credentials, new FixedTimeProvider(JsSignedAt));

        string sync = generator.GenerateToken(Host, Region, user);
        string async = await generator.GenerateTokenAsync(Host, Region, user);
        Assert.Equal(sync, async);

        // The JS signer sorts every parameter, X-Amz-Signature included; ours keeps the canonical (signed)
        // parameters in order and appends X-Amz-Signature last. Otherwise the tokens are identical byte for byte.
        var (jsHost, jsParameters) = Parse(jsToken);
        var signature = jsParameters.Single(p => p.Key == "X-Amz-Signature");
        string expected = jsHost + "/?" + string.Join('&', jsParameters.Where(p => p.Key != "X-Amz-Signature").Append(signature).Select(p => $"{p.Key}={p.Value}"));
        Assert.Equal(expected, sync);
        Assert.Equal(ParameterSet(jsToken), ParameterSet(sync));
    }

    // ------------------------------------------------------------------ (c) SigV4 worked by hand

    [Fact]
    public void MatchesSignatureWorkedOutFromTheSigV4Specification()
    {
        // Inputs.
        var at = new DateTimeOffset(2025, 7, 4, 8, 9, 10, TimeSpan.Zero);
        const string host = "zyxwvutsrqponmlkjihgfedcba.dsql.ap-southeast-2.on.aws";
        const string region = "ap-southeast-2";

        // Step 1: canonical request. Query parameters sorted by name, values URI-encoded
        // ('/' -> %2F, '+' -> %2B, '=' -> %3D, '&' -> %26), only the host header signed, empty-payload hash.
        const string credentialScope = "20250704/ap-southeast-2/dsql/aws4_request";
        const string canonicalQuery =
            "Action=DbConnect"
            + "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20250704%2Fap-southeast-2%2Fdsql%2Faws4_request"
            + "&X-Amz-Date=20250704T080910Z"
            + "&X-Amz-Expires=1200"
            + "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2F%2Fsession%2Btoken%2Fwith%3Dspecial%26chars%3D%3D"
            + "&X-Amz-SignedHeaders=host";
        string emptyHash = Convert.ToHexString(SHA256.HashData(Array.Empty<byte>())).ToLowerInvariant();
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", emptyHash);
        string canonicalRequest = "GET\n" + "/\n" + canonicalQuery + "\n" + "host:" + host + "\n" + "\n" + "host\n" + emptyHash;

        // Step 2: string to sign.
        string hashedRequest = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest))).ToLowerInvariant();
        string stringToSign = "AWS4-HMAC-SHA256\n20250704T080910Z\n" + credentialScope + "\n" + hashedRequest;

        // Step 3: signing key.
        static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));
        byte[] kDate = Hmac(Encoding.UTF8.GetBytes("AWS4" + TempSecret), "20250704");
        byte[] kRegion = Hmac(kDate, region);
        byte[] kService = Hmac(kRegion, "dsql");
        byte[] kSigning = Hmac(kService, "aws4_request");

        // Step 4: signature.
        string signature = Convert.ToHexString(Hmac(kSigning, stringToSign)).ToLowerInvariant();

        var generator = new DsqlTokenGenerator(new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken), new FixedTimeProvider(at));
        string token = generator.GenerateToken(host, region, "app", TimeSpan.FromSeconds(1200));

        Assert.Equal($"{host}/?{canonicalQuery}&X-Amz-Signature={signature}", token);
    }

    // ------------------------------------------------------------------ token shape

    [Fact]
    public void AdminUsesDbConnectAdmin()
    {
        Assert.Equal("DbConnectAdmin", Param(NewGenerator().GenerateToken(Host, Region, "admin"), "Action"));
    }

    [Theory]
    [InlineData("app")]
    [InlineData("Admin")]
    [InlineData("ADMIN")]
    [InlineData("admin ")]
    [InlineData("administrator")]
    public void OtherUsersUseDbConnect(string user)
    {
        Assert.Equal("DbConnect", Param(NewGenerator().GenerateToken(Host, Region, user), "Action"));
    }

    [Fact]
    public void TokenHasNoSchemeAndParametersInCanonicalOrderWithSignatureLast()
    {
        string token = NewGenerator(new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)).GenerateToken(Host, Region, "admin");
        Assert.StartsWith(Host + "/?Action=", token);
        Assert.DoesNotContain("://", token);
        var names = Parse(token).Parameters.Select(p => p.Key).ToArray();
        Assert.Equal(
            new[] { "Action", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature" },
            names);
        Assert.Equal("host", Param(token, "X-Amz-SignedHeaders"));
        Assert.Equal("AKIAIOSFODNN7EXAMPLE%2F20250301%2Fus-east-1%2Fdsql%2Faws4_request".Replace("AKIA", "ASIA"), Param(token, "X-Amz-Credential"));
        Assert.Equal("20250301T100000Z", Param(token, "X-Amz-Date"));
        Assert.Matches("^[0-9a-f]{64}$", Param(token, "X-Amz-Signature"));
    }

    [Fact]
    public void SessionTokenIsIncludedEncodedAndSigned()
    {
        string withToken = NewGenerator(new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)).GenerateToken(Host, Region, "admin");
        string otherToken = NewGenerator(new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken + "x")).GenerateToken(Host, Region, "admin");
        string withoutToken = NewGenerator(new BasicAWSCredentials(TempAccessKeyId, TempSecret)).GenerateToken(Host, Region, "admin");

        Assert.Equal(
            "IQoJb3JpZ2luX2VjEXAMPLE%2F%2Fsession%2Btoken%2Fwith%3Dspecial%26chars%3D%3D",
            Param(withToken, "X-Amz-Security-Token"));
        Assert.False(ParameterSet(withoutToken).ContainsKey("X-Amz-Security-Token"));
        Assert.NotEqual(Param(withToken, "X-Amz-Signature"), Param(withoutToken, "X-Amz-Signature"));
        Assert.NotEqual(Param(withToken, "X-Amz-Signature"), Param(otherToken, "X-Amz-Signature"));
    }

    [Fact]
    public void HostIsLowerCased()
    {
        string token = NewGenerator().GenerateToken(Host.ToUpperInvariant(), Region, "admin");
        Assert.Equal(NewGenerator().GenerateToken(Host, Region, "admin"), token);
    }

    [Fact]
    public void SignedAtIsTruncatedToWholeSeconds()
    {
        DsqlToken token = NewGenerator(now: Now.AddMilliseconds(987)).Generate(Host, Region, "admin");
        Assert.Equal(Now, token.SignedAt);
        Assert.Equal(Now.AddSeconds(900), token.ExpiresAt);
        Assert.Equal("20250301T100000Z", Param(token.Value, "X-Amz-Date"));
    }

    [Fact]
    public void SigningKeyCacheFollowsDateAndRegion()
    {
        var clock = new FixedTimeProvider(new DateTimeOffset(2025, 3, 1, 23, 59, 59, TimeSpan.Zero));
        var credentials = new BasicAWSCredentials(AccessKeyId, Secret);
        var generator = new DsqlTokenGenerator(credentials, clock);

        const string westHost = "abcdefghijklmnopqrstuvwxyz.dsql.us-west-2.on.aws";
        foreach (var (host, region) in new[] { (Host, Region), (westHost, "us-west-2"), (Host, Region) })
        {
            for (int day = 0; day < 2; day++)
            {
                string ours = generator.GenerateToken(host, region, "admin");
                string sdk = SdkToken("DbConnectAdmin", credentials, clock.UtcNow, 900, host, region);
                Assert.Equal(ParameterSet(sdk)["X-Amz-Signature"], ParameterSet(ours)["X-Amz-Signature"]);
                clock.Advance(TimeSpan.FromSeconds(1)); // crosses midnight: new scope date
            }

            clock.UtcNow = new DateTimeOffset(2025, 3, 1, 23, 59, 59, TimeSpan.Zero);
        }
    }

    // ------------------------------------------------------------------ expiry

    [Fact]
    public void DefaultExpiryIs900Seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(900), DsqlTokenGenerator.DefaultExpiry);
        Assert.Equal(TimeSpan.FromSeconds(1), DsqlTokenGenerator.MinimumExpiry);
        Assert.Equal(TimeSpan.FromSeconds(604_800), DsqlTokenGenerator.MaximumExpiry);

        DsqlToken token = NewGenerator().Generate(Host, Region, "admin");
        Assert.Equal("900", Param(token.Value, "X-Amz-Expires"));
        Assert.Equal(Now, token.SignedAt);
        Assert.Equal(Now.AddSeconds(900), token.ExpiresAt);
        Assert.Equal(TimeSpan.FromSeconds(900), token.Lifetime);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(60)]
    [InlineData(604_800)]
    public void ExpiryBoundsAreAccepted(int seconds)
    {
        DsqlToken token = NewGenerator().Generate(Host, Region, "admin", TimeSpan.FromSeconds(seconds));
        Assert.Equal(seconds.ToString(CultureInfo.InvariantCulture), Param(token.Value, "X-Amz-Expires"));
        Assert.Equal(Now.AddSeconds(seconds), token.ExpiresAt);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(-1.0)]
    [InlineData(604_801.0)]
    public async Task ExpiryOutsideBoundsIsRejected(double seconds)
    {
        var generator = NewGenerator();
        TimeSpan expiresIn = TimeSpan.FromSeconds(seconds);

        var sync = Assert.Throws<ArgumentOutOfRangeException>(() => generator.GenerateToken(Host, Region, "admin", expiresIn));
        Assert.Equal("expiresIn", sync.ParamName);
        Assert.Contains("expiresIn", sync.Message);
        Assert.Contains("604800", sync.Message);
        Assert.Contains(seconds.ToString(CultureInfo.InvariantCulture), sync.Message);

        var async = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => generator.GenerateAsync(Host, Region, "admin", expiresIn).AsTask());
        Assert.Equal("expiresIn", async.ParamName);
    }

    [Fact]
    public async Task ExpiryIsClampedToTheCredentialsExpiration()
    {
        var credentials = new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)
        {
            Expiration = Now.AddMinutes(5).UtcDateTime,
        };
        var generator = NewGenerator(credentials, Now.AddMilliseconds(400));

        DsqlToken token = generator.Generate(Host, Region, "admin");
        Assert.Equal("300", Param(token.Value, "X-Amz-Expires"));
        Assert.Equal(Now, token.SignedAt);
        Assert.Equal(Now.AddSeconds(300), token.ExpiresAt);

        DsqlToken asyncToken = await generator.GenerateAsync(Host, Region, "admin", TimeSpan.FromDays(7));
        Assert.Equal("300", Param(asyncToken.Value, "X-Amz-Expires"));
        Assert.Equal(Now.AddSeconds(300), asyncToken.ExpiresAt);

        // A shorter request is kept as is.
        DsqlToken shorter = generator.Generate(Host, Region, "admin", TimeSpan.FromSeconds(120));
        Assert.Equal("120", Param(shorter.Value, "X-Amz-Expires"));

        // The clamped token is still a valid SigV4 presign for that expiry.
        string sdk = SdkToken("DbConnectAdmin", credentials, Now, 300);
        Assert.Equal(ParameterSet(sdk)["X-Amz-Signature"], Param(token.Value, "X-Amz-Signature"));
    }

    [Fact]
    public void ExpirationCarriedByAssumeRoleCredentialsIsHonoured()
    {
        var assumed = new AssumeRoleImmutableCredentials(TempAccessKeyId, TempSecret, SessionToken, Now.AddMinutes(2).UtcDateTime);
        var credentials = new CountingCredentials(assumed);
        DsqlToken token = new DsqlTokenGenerator(credentials, new FixedTimeProvider(Now)).Generate(Host, Region, "admin");
        Assert.Equal("120", Param(token.Value, "X-Amz-Expires"));
        Assert.Equal(Now.AddSeconds(120), token.ExpiresAt);
    }

    [Fact]
    public void ExpiryIsAtLeastOneSecondWhenCredentialsAreAboutToExpire()
    {
        var credentials = new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)
        {
            Expiration = Now.AddMilliseconds(500).UtcDateTime,
        };
        DsqlToken token = NewGenerator(credentials).Generate(Host, Region, "admin");
        Assert.Equal("1", Param(token.Value, "X-Amz-Expires"));
    }

    [Fact]
    public void LocalExpirationIsConvertedToUtc()
    {
        var credentials = new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)
        {
            Expiration = Now.AddMinutes(10).UtcDateTime.ToLocalTime(),
        };
        Assert.Equal("600", Param(NewGenerator(credentials).GenerateToken(Host, Region, "admin"), "X-Amz-Expires"));
    }

    [Fact]
    public async Task ExpiredCredentialsThrow()
    {
        var credentials = new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)
        {
            Expiration = Now.AddSeconds(-1).UtcDateTime,
        };
        var generator = NewGenerator(credentials);

        var sync = Assert.Throws<DsqlCredentialsException>(() => generator.Generate(Host, Region, "admin"));
        Assert.Contains("expired at 2025-03-01T09:59:59Z", sync.Message);
        AssertNoSecrets(sync.Message);

        var async = await Assert.ThrowsAsync<DsqlCredentialsException>(() => generator.GenerateAsync(Host, Region, "admin").AsTask());
        AssertNoSecrets(async.Message);
    }

    [Fact]
    public void CredentialsExpiringExactlyNowThrow()
    {
        var credentials = new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken) { Expiration = Now.UtcDateTime };
        Assert.Throws<DsqlCredentialsException>(() => NewGenerator(credentials).Generate(Host, Region, "admin"));
    }

    // ------------------------------------------------------------------ validation

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("https://abc.dsql.us-east-1.on.aws", "scheme")]
    [InlineData("postgres://abc.dsql.us-east-1.on.aws", "scheme")]
    [InlineData("abc.dsql.us-east-1.on.aws:5432", "port")]
    [InlineData("abc.dsql.us-east-1.on.aws/", "path")]
    [InlineData("abc.dsql.us-east-1.on.aws/postgres", "path")]
    [InlineData("abc.dsql.us-east-1.on.aws?x=1", "path")]
    [InlineData("abc..on.aws", "not a valid host name")]
    [InlineData(".abc.on.aws", "not a valid host name")]
    [InlineData("abc.on.aws.", "not a valid host name")]
    [InlineData("user@abc.on.aws", "not a valid host name")]
    [InlineData("abc def.on.aws", "not a valid host name")]
    public void BadHostIsRejected(string host, string phrase)
    {
        var ex = Assert.Throws<ArgumentException>(() => NewGenerator().GenerateToken(host, Region, "admin"));
        Assert.Equal("host", ex.ParamName);
        Assert.Contains(phrase, ex.Message);
        if (!string.IsNullOrWhiteSpace(host))
        {
            Assert.Contains(host, ex.Message);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("useast1")]
    [InlineData("US-EAST-1")]
    [InlineData("us-east")]
    [InlineData("us east 1")]
    [InlineData("-1")]
    public void BadRegionIsRejected(string region)
    {
        var ex = Assert.Throws<ArgumentException>(() => NewGenerator().GenerateToken(Host, region, "admin"));
        Assert.Equal("region", ex.ParamName);
        Assert.Contains("us-east-1", ex.Message);
    }

    [Theory]
    [InlineData("us-east-1")]
    [InlineData("us-gov-west-1")]
    [InlineData("ap-southeast-5")]
    [InlineData("cn-north-1")]
    [InlineData("eusc-de-east-1")]
    public void RegionNamesAreAccepted(string region)
    {
        string token = NewGenerator().GenerateToken($"abcdefghijklmnopqrstuvwxyz.dsql.{region}.on.aws", region, "admin");
        Assert.Contains($"%2F{region}%2Fdsql%2F", token);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void EmptyUserIsRejected(string user)
    {
        var ex = Assert.Throws<ArgumentException>(() => NewGenerator().GenerateToken(Host, Region, user));
        Assert.Equal("user", ex.ParamName);
    }

    [Fact]
    public void NullArgumentsAreRejected()
    {
        Assert.Throws<ArgumentNullException>(() => new DsqlTokenGenerator(null!));
        Assert.Throws<ArgumentNullException>(() => NewGenerator().GenerateToken(null!, Region, "admin"));
        Assert.Throws<ArgumentNullException>(() => NewGenerator().GenerateToken(Host, null!, "admin"));
        Assert.Throws<ArgumentNullException>(() => NewGenerator().GenerateToken(Host, Region, null!));
    }

    [Fact]
    public void ValidationHappensBeforeCredentialsAreFetched()
    {
        var credentials = new CountingCredentials(new ImmutableCredentials(AccessKeyId, Secret, null));
        var generator = new DsqlTokenGenerator(credentials, new FixedTimeProvider(Now));
        Assert.Throws<ArgumentException>(() => generator.GenerateToken("https://x", Region, "admin"));
        Assert.Equal(0, credentials.SyncCalls + credentials.AsyncCalls);
    }

    [Fact]
    public void MissingCredentialsAreRejectedClearly()
    {
        // A misbehaving AWSCredentials subclass (the SDK's own ImmutableCredentials refuses empty keys).
        var credentials = new CountingCredentials(null!);
        var ex = Assert.Throws<DsqlCredentialsException>(() => new DsqlTokenGenerator(credentials).GenerateToken(Host, Region, "admin"));
        Assert.Contains("secret access key", ex.Message);
    }

    // ------------------------------------------------------------------ credentials paths

    [Fact]
    public async Task SyncAndAsyncPathsUseTheirOwnCredentialCalls()
    {
        var credentials = new CountingCredentials(new ImmutableCredentials(AccessKeyId, Secret, null));
        var generator = new DsqlTokenGenerator(credentials, new FixedTimeProvider(Now));

        string sync = generator.GenerateToken(Host, Region, "admin");
        Assert.Equal((1, 0), (credentials.SyncCalls, credentials.AsyncCalls));

        string async = await generator.GenerateTokenAsync(Host, Region, "admin");
        Assert.Equal((1, 1), (credentials.SyncCalls, credentials.AsyncCalls));
        Assert.Equal(sync, async);
    }

    [Fact]
    public async Task CredentialsAreFetchedForEveryToken()
    {
        var credentials = new CountingCredentials(new ImmutableCredentials(AccessKeyId, Secret, null));
        var generator = new DsqlTokenGenerator(credentials, new FixedTimeProvider(Now));
        string first = await generator.GenerateTokenAsync(Host, Region, "admin");

        credentials.Current = new ImmutableCredentials(TempAccessKeyId, TempSecret, SessionToken);
        string second = await generator.GenerateTokenAsync(Host, Region, "admin");

        Assert.StartsWith(AccessKeyId, Param(first, "X-Amz-Credential"));
        Assert.StartsWith(TempAccessKeyId, Param(second, "X-Amz-Credential"));
        Assert.Equal(
            ParameterSet(SdkToken("DbConnectAdmin", new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken), Now, 900))["X-Amz-Signature"],
            Param(second, "X-Amz-Signature"));
    }

    [Fact]
    public async Task AsyncGenerationHonoursCancellation()
    {
        var pending = new TaskCompletionSource<ImmutableCredentials>(TaskCreationOptions.RunContinuationsAsynchronously);
        var credentials = new CountingCredentials(new ImmutableCredentials(AccessKeyId, Secret, null)) { AsyncResult = pending.Task };
        var generator = new DsqlTokenGenerator(credentials, new FixedTimeProvider(Now));

        using var cts = new CancellationTokenSource();
        ValueTask<DsqlToken> generating = generator.GenerateAsync(Host, Region, "admin", cancellationToken: cts.Token);
        Assert.False(generating.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generating.AsTask());

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(Host, Region, "admin", cancellationToken: cancelled.Token).AsTask());
    }

    // ------------------------------------------------------------------ DsqlToken

    [Fact]
    public void TokenToStringDoesNotRevealTheValue()
    {
        DsqlToken token = NewGenerator(new SessionAWSCredentials(TempAccessKeyId, TempSecret, SessionToken)).Generate(Host, Region, "admin");
        string text = token.ToString();
        Assert.Equal("DSQL token, signed 2025-03-01T10:00:00Z, expires 2025-03-01T10:15:00Z", text);
        Assert.DoesNotContain(token.Value, text);
        Assert.DoesNotContain("X-Amz", text);
        Assert.DoesNotContain(Host, text);
        Assert.DoesNotContain(token.Value, $"{token}");
        Assert.DoesNotContain(token.Value, string.Format(CultureInfo.InvariantCulture, "{0}", token));
        Assert.DoesNotContain(token.Value, new[] { token }.Select(t => t.ToString()).Single());
        Assert.Equal("DSQL token, signed 0001-01-01T00:00:00Z, expires 0001-01-01T00:00:00Z", default(DsqlToken).ToString());
    }

    [Fact]
    public void TokenEqualityAndDeconstruction()
    {
        var a = new DsqlToken("v", Now, Now.AddSeconds(10));
        var b = new DsqlToken("v", Now, Now.AddSeconds(10));
        Assert.Equal(a, b);
        var (value, signedAt, expiresAt) = a;
        Assert.Equal(("v", Now, Now.AddSeconds(10)), (value, signedAt, expiresAt));
        Assert.False(a.IsExpiredAt(Now.AddSeconds(9)));
        Assert.True(a.IsExpiredAt(Now.AddSeconds(10)));
    }

    private static void AssertNoSecrets(string message)
    {
        Assert.DoesNotContain(Secret, message);
        Assert.DoesNotContain(TempSecret, message);
        Assert.DoesNotContain(SessionToken, message);
        Assert.DoesNotContain(Uri.EscapeDataString(SessionToken), message);
    }

    /// <summary>Credentials that count how they are fetched.</summary>
    private sealed class CountingCredentials(ImmutableCredentials current) : AWSCredentials
    {
        public ImmutableCredentials Current { get; set; } = current;

        public Task<ImmutableCredentials>? AsyncResult { get; init; }

        public int SyncCalls { get; private set; }

        public int AsyncCalls { get; private set; }

        public override ImmutableCredentials GetCredentials()
        {
            SyncCalls++;
            return Current;
        }

        public override Task<ImmutableCredentials> GetCredentialsAsync()
        {
            AsyncCalls++;
            return AsyncResult ?? Task.FromResult(Current);
        }
    }
}
