using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Dsql.Emulator.Auth;

/// <summary>
/// Validates Aurora DSQL IAM authentication tokens: SigV4 presigned URLs (without the <c>https://</c> scheme)
/// for <c>GET /?Action=DbConnect[Admin]</c> signed for service <c>dsql</c> with only the <c>host</c> header signed.
/// </summary>
/// <remarks>
/// Validation sits on the connect path, so it avoids LINQ and caches derived signing keys per
/// (access key id, scope date, region). Failure texts are sent to clients and therefore never contain the token,
/// its signature, a secret access key or a session token.
/// </remarks>
internal sealed partial class DsqlTokenValidator
{
    internal const string Algorithm = "AWS4-HMAC-SHA256";
    internal const string Service = "dsql";
    internal const string Terminator = "aws4_request";
    internal const string ActionConnect = "DbConnect";
    internal const string ActionConnectAdmin = "DbConnectAdmin";
    internal const string AdminUser = "admin";
    internal const int MaxExpiresSeconds = DsqlQuotas.MaxTokenLifetimeSeconds;

    /// <summary>Longest password accepted as a token (session tokens are long, but not this long).</summary>
    internal const int MaxTokenLength = 16 * 1024;

    private const int MaxParameters = 16;
    private const int MaxCachedSigningKeys = 1024;

    private const string ParamAction = "Action";
    private const string ParamAlgorithm = "X-Amz-Algorithm";
    private const string ParamCredential = "X-Amz-Credential";
    private const string ParamDate = "X-Amz-Date";
    private const string ParamExpires = "X-Amz-Expires";
    private const string ParamSecurityToken = "X-Amz-Security-Token";
    private const string ParamSignedHeaders = "X-Amz-SignedHeaders";
    private const string ParamSignature = "X-Amz-Signature";

    /// <summary>Hex SHA-256 of the empty payload.</summary>
    private const string EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static readonly Comparison<KeyValuePair<string, string>> ByEncodedNameOrdinal =
        static (a, b) => string.CompareOrdinal(a.Key, b.Key);

    private readonly Dictionary<string, EmulatorAccessKey> _keys;
    private readonly TimeSpan _allowedClockSkew;
    private readonly ConcurrentDictionary<SigningKeyId, byte[]> _signingKeys = new();

    public DsqlTokenValidator(IEnumerable<EmulatorAccessKey> keys, TimeSpan allowedClockSkew)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (allowedClockSkew < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(allowedClockSkew), allowedClockSkew, "The allowed clock skew must not be negative.");
        }

        _allowedClockSkew = allowedClockSkew;
        _keys = new Dictionary<string, EmulatorAccessKey>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (key is null)
            {
                throw new ArgumentException("The access key list contains a null entry.", nameof(keys));
            }

            if (string.IsNullOrEmpty(key.AccessKeyId) || key.AccessKeyId.Contains('/'))
            {
                throw new ArgumentException("An access key id must be non-empty and must not contain '/'.", nameof(keys));
            }

            if (string.IsNullOrEmpty(key.SecretAccessKey))
            {
                throw new ArgumentException($"Access key '{key.AccessKeyId}' has an empty secret access key.", nameof(keys));
            }

            if (!_keys.TryAdd(key.AccessKeyId, key))
            {
                throw new ArgumentException($"Access key id '{key.AccessKeyId}' is configured more than once.", nameof(keys));
            }
        }
    }

    /// <summary>
    /// Validates <paramref name="token"/> (the cleartext password) for a connection as <paramref name="user"/>.
    /// </summary>
    /// <param name="token">The password the client sent.</param>
    /// <param name="user">The PostgreSQL user; <c>admin</c> (exact) needs <c>DbConnectAdmin</c>, others <c>DbConnect</c>.</param>
    /// <param name="endpointHost">The endpoint the client connected to (compared case-insensitively).</param>
    /// <param name="endpointRegion">The endpoint's region, e.g. <c>us-east-1</c>.</param>
    /// <param name="now">The emulator's clock.</param>
    public TokenValidationResult Validate(string token, string user, string endpointHost, string endpointRegion, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(endpointHost);
        ArgumentNullException.ThrowIfNull(endpointRegion);

        // ---- parse ----
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength)
        {
            return NotAToken(endpointHost, endpointRegion);
        }

        if (token.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || token.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            return TokenValidationResult.Fail(
                "the password is a presigned URL with a scheme; a DSQL authentication token is that URL without the leading 'https://'");
        }

        int separator = token.IndexOf("/?", StringComparison.Ordinal);
        if (separator <= 0 || separator + 2 >= token.Length)
        {
            return NotAToken(endpointHost, endpointRegion);
        }

        string tokenHost = token.Substring(0, separator);
        var parameters = new List<KeyValuePair<string, string>>(9);
        string? action = null, algorithm = null, credential = null, date = null, expires = null;
        string? securityToken = null, signedHeaders = null, signature = null;

        int position = separator + 2;
        while (position <= token.Length)
        {
            int end = token.IndexOf('&', position);
            if (end < 0)
            {
                end = token.Length;
            }

            int equals = token.IndexOf('=', position, end - position);
            if (equals <= position
                || !TryPercentDecode(token, position, equals, out string? name)
                || !TryPercentDecode(token, equals + 1, end, out string? value)
                || parameters.Count == MaxParameters)
            {
                return NotAToken(endpointHost, endpointRegion);
            }

            for (int i = 0; i < parameters.Count; i++)
            {
                if (string.Equals(parameters[i].Key, name, StringComparison.Ordinal))
                {
                    return TokenValidationResult.Fail(
                        $"the token has the parameter '{Display(name)}' more than once; generate a fresh token with an AWS SDK or the aws CLI (aws dsql generate-db-connect-auth-token)");
                }
            }

            parameters.Add(new KeyValuePair<string, string>(name, value));
            switch (name)
            {
                case ParamAction: action = value; break;
                case ParamAlgorithm: algorithm = value; break;
                case ParamCredential: credential = value; break;
                case ParamDate: date = value; break;
                case ParamExpires: expires = value; break;
                case ParamSecurityToken: securityToken = value; break;
                case ParamSignedHeaders: signedHeaders = value; break;
                case ParamSignature: signature = value; break;
            }

            position = end + 1;
        }

        string? missing =
            action is null ? ParamAction :
            algorithm is null ? ParamAlgorithm :
            credential is null ? ParamCredential :
            date is null ? ParamDate :
            expires is null ? ParamExpires :
            signedHeaders is null ? ParamSignedHeaders :
            signature is null ? ParamSignature : null;
        if (missing is not null)
        {
            return TokenValidationResult.Fail(
                $"the token is missing the {missing} parameter; it is not a complete DSQL authentication token (sign one for host '{Display(endpointHost)}' and region '{Display(endpointRegion)}')");
        }

        // ---- host ----
        if (!string.Equals(tokenHost, endpointHost, StringComparison.OrdinalIgnoreCase))
        {
            return TokenValidationResult.Fail(
                $"the token was signed for host '{Display(tokenHost)}', but this endpoint is '{Display(endpointHost)}'; sign the token for the host you connect to (without a port)");
        }

        // ---- action vs user ----
        bool isAdmin = string.Equals(user, AdminUser, StringComparison.Ordinal);
        string neededAction = isAdmin ? ActionConnectAdmin : ActionConnect;
        if (!string.Equals(action, ActionConnect, StringComparison.Ordinal) && !string.Equals(action, ActionConnectAdmin, StringComparison.Ordinal))
        {
            return TokenValidationResult.Fail(
                $"the token's Action is '{Display(action!)}', which is neither {ActionConnect} nor {ActionConnectAdmin}; user '{Display(user)}' needs a token for action {neededAction}");
        }

        if (!string.Equals(action, neededAction, StringComparison.Ordinal))
        {
            return TokenValidationResult.Fail(
                $"user '{Display(user)}' needs a token for action {neededAction} (IAM permission dsql:{neededAction}); this token is for {action}"
                + (isAdmin ? " (generate it with the admin variant of the token generator)" : " (only the user 'admin' uses DbConnectAdmin tokens)"));
        }

        // ---- algorithm / signed headers ----
        if (!string.Equals(algorithm, Algorithm, StringComparison.Ordinal))
        {
            return TokenValidationResult.Fail(
                $"the token's X-Amz-Algorithm is '{Display(algorithm!)}'; DSQL tokens must be signed with {Algorithm} (SigV4)");
        }

        if (!string.Equals(signedHeaders, "host", StringComparison.Ordinal))
        {
            return TokenValidationResult.Fail(
                $"the token's X-Amz-SignedHeaders is '{Display(signedHeaders!)}'; DSQL tokens must sign exactly the host header (X-Amz-SignedHeaders=host)");
        }

        // ---- credential scope ----
        string[] scope = credential!.Split('/');
        if (scope.Length != 5 || scope[0].Length == 0 || scope[2].Length == 0 || !IsScopeDate(scope[1]))
        {
            return TokenValidationResult.Fail(
                $"the token's X-Amz-Credential is malformed; expected '{{access key id}}/{{yyyyMMdd}}/{{region}}/{Service}/{Terminator}'");
        }

        string accessKeyId = scope[0];
        string scopeDate = scope[1];
        string scopeRegion = scope[2];
        if (!string.Equals(scope[3], Service, StringComparison.Ordinal))
        {
            return TokenValidationResult.Fail(
                $"the token was signed for service '{Display(scope[3])}', but DSQL tokens must be signed for service '{Service}'",
                accessKeyId);
        }

        if (!string.Equals(scope[4], Terminator, StringComparison.Ordinal))
        {
            return TokenValidationResult.Fail(
                $"the token's credential scope ends in '{Display(scope[4])}' instead of '{Terminator}'",
                accessKeyId);
        }

        if (!TryParseAmzDate(date!, out DateTime signedAt))
        {
            return TokenValidationResult.Fail(
                $"the token's X-Amz-Date '{Display(date!)}' is malformed; expected UTC time as yyyyMMdd'T'HHmmss'Z'",
                accessKeyId);
        }

        if (string.CompareOrdinal(scopeDate, 0, date, 0, 8) != 0)
        {
            return TokenValidationResult.Fail(
                $"the token's credential scope date {scopeDate} does not match the date of its X-Amz-Date {Display(date!)}",
                accessKeyId);
        }

        // ---- region ----
        if (!string.Equals(scopeRegion, endpointRegion, StringComparison.Ordinal))
        {
            return TokenValidationResult.Fail(
                $"the token was signed for region '{Display(scopeRegion)}', but this endpoint is in region '{Display(endpointRegion)}'",
                accessKeyId);
        }

        // ---- expires ----
        if (!TryParseExpires(expires!, out int expiresSeconds))
        {
            return TokenValidationResult.Fail(
                $"the token's X-Amz-Expires '{Display(expires!)}' is invalid; it must be an integer number of seconds from 1 to {MaxExpiresSeconds} (7 days)",
                accessKeyId);
        }

        // ---- date / time ----
        long nowTicks = now.UtcTicks;
        if (signedAt.Ticks - nowTicks > _allowedClockSkew.Ticks)
        {
            return TokenValidationResult.Fail(
                $"the token is not valid yet: signed at {Iso(signedAt)}, emulator clock {Iso(now.UtcDateTime)} (allowed clock skew {(long)_allowedClockSkew.TotalSeconds} s); check the client's clock",
                accessKeyId);
        }

        if (nowTicks - signedAt.Ticks > expiresSeconds * TimeSpan.TicksPerSecond)
        {
            return TokenValidationResult.Fail(
                $"the token expired at {Iso(signedAt.AddSeconds(expiresSeconds))} (signed at {Iso(signedAt)}, valid for {expiresSeconds} s); emulator clock is {Iso(now.UtcDateTime)}; generate a fresh token",
                accessKeyId);
        }

        // ---- key lookup ----
        if (!_keys.TryGetValue(accessKeyId, out EmulatorAccessKey? key))
        {
            return TokenValidationResult.Fail(
                $"unknown access key id '{Display(accessKeyId)}'; sign the token with one of the access keys configured in the emulator",
                accessKeyId);
        }

        // ---- session token ----
        if (key.SessionToken is not null)
        {
            if (securityToken is null)
            {
                return TokenValidationResult.Fail(
                    $"access key '{accessKeyId}' is a temporary credential: the token must be signed with its session token (X-Amz-Security-Token is missing)",
                    accessKeyId);
            }

            if (!FixedTimeEqualsUtf8(securityToken, key.SessionToken))
            {
                return TokenValidationResult.Fail(
                    $"the token's X-Amz-Security-Token does not match the session token configured for access key '{accessKeyId}'",
                    accessKeyId);
            }
        }
        else if (securityToken is not null)
        {
            return TokenValidationResult.Fail(
                $"access key '{accessKeyId}' is a long-term key without a session token, but the token carries X-Amz-Security-Token; sign it without a session token",
                accessKeyId);
        }

        // ---- signature ----
        Span<byte> presented = stackalloc byte[32];
        if (!TryParseHex(signature!, presented))
        {
            return TokenValidationResult.Fail(
                "the token's X-Amz-Signature is not 64 hexadecimal digits; generate a fresh token",
                accessKeyId);
        }

        Span<byte> expected = stackalloc byte[32];
        ComputeSignature(parameters, tokenHost, date!, scopeDate, scopeRegion, key, expected);
        if (!CryptographicOperations.FixedTimeEquals(presented, expected))
        {
            return TokenValidationResult.Fail(
                $"the token signature does not match: check the secret access key for access key id '{accessKeyId}', and that the token was signed (GET, path '/', only the host header, service '{Service}', region '{scopeRegion}') and then used unaltered",
                accessKeyId);
        }

        return TokenValidationResult.Success(accessKeyId);
    }

    private static TokenValidationResult NotAToken(string endpointHost, string endpointRegion) =>
        TokenValidationResult.Fail(
            $"the password is not a DSQL authentication token; sign one for host '{Display(endpointHost)}' and region '{Display(endpointRegion)}'");

    private void ComputeSignature(
        List<KeyValuePair<string, string>> parameters,
        string tokenHost,
        string amzDate,
        string scopeDate,
        string region,
        EmulatorAccessKey key,
        Span<byte> destination)
    {
        // Canonical query: every parameter but the signature, name and value SigV4-encoded, sorted by encoded name.
        var encoded = new KeyValuePair<string, string>[parameters.Count - 1];
        int count = 0;
        int length = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (string.Equals(p.Key, ParamSignature, StringComparison.Ordinal))
            {
                continue;
            }

            var e = new KeyValuePair<string, string>(UriEncode(p.Key), UriEncode(p.Value));
            length += e.Key.Length + e.Value.Length + 2;
            encoded[count++] = e;
        }

        Array.Sort(encoded, ByEncodedNameOrdinal);

        var canonical = new StringBuilder(length + tokenHost.Length + 100);
        canonical.Append("GET\n/\n");
        for (int i = 0; i < encoded.Length; i++)
        {
            if (i > 0)
            {
                canonical.Append('&');
            }

            canonical.Append(encoded[i].Key).Append('=').Append(encoded[i].Value);
        }

        canonical.Append("\nhost:").Append(tokenHost.ToLowerInvariant()).Append("\n\nhost\n").Append(EmptyPayloadHash);

        Span<byte> canonicalHash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString()), canonicalHash);

        var stringToSign = new StringBuilder(160);
        stringToSign.Append(Algorithm).Append('\n')
            .Append(amzDate).Append('\n')
            .Append(scopeDate).Append('/').Append(region).Append('/').Append(Service).Append('/').Append(Terminator).Append('\n');
        AppendLowerHex(stringToSign, canonicalHash);

        byte[] signingKey = GetSigningKey(key, scopeDate, region);
        HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign.ToString()), destination);
    }

    private byte[] GetSigningKey(EmulatorAccessKey key, string scopeDate, string region)
    {
        var id = new SigningKeyId(key.AccessKeyId, scopeDate, region);
        if (_signingKeys.TryGetValue(id, out byte[]? cached))
        {
            return cached;
        }

        byte[] kDate = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + key.SecretAccessKey), Encoding.UTF8.GetBytes(scopeDate));
        byte[] kRegion = HMACSHA256.HashData(kDate, Encoding.UTF8.GetBytes(region));
        byte[] kService = HMACSHA256.HashData(kRegion, Encoding.UTF8.GetBytes(Service));
        byte[] kSigning = HMACSHA256.HashData(kService, Encoding.UTF8.GetBytes(Terminator));

        if (_signingKeys.Count >= MaxCachedSigningKeys)
        {
            _signingKeys.Clear();
        }

        _signingKeys[id] = kSigning;
        return kSigning;
    }

    private static bool FixedTimeEqualsUtf8(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private readonly record struct SigningKeyId(string AccessKeyId, string Date, string Region);
}
