using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Amazon.Runtime;

namespace Dsql.Connector;

/// <summary>
/// Generates Aurora DSQL IAM authentication tokens: SigV4 presigned <c>GET /?Action=DbConnect[Admin]</c> requests
/// for service <c>dsql</c>, without the leading <c>https://</c>. Signing is local; only resolving the credentials
/// may touch the network (instance metadata, SSO, STS).
/// </summary>
/// <remarks>
/// Instances are thread-safe. Tokens signed with temporary credentials never claim a lifetime past the
/// credentials' expiration, since DSQL stops accepting them at that point whatever <c>X-Amz-Expires</c> says.
/// </remarks>
public sealed partial class DsqlTokenGenerator
{
    /// <summary>The lifetime used when none is given: 900 seconds (15 minutes), as in the AWS SDKs.</summary>
    public static readonly TimeSpan DefaultExpiry = DsqlQuotas.DefaultTokenLifetime;

    /// <summary>The shortest lifetime a token can be signed with: 1 second.</summary>
    public static readonly TimeSpan MinimumExpiry = TimeSpan.FromSeconds(1);

    /// <summary>The longest lifetime SigV4 allows for a presigned request: 604,800 seconds (7 days).</summary>
    public static readonly TimeSpan MaximumExpiry = DsqlQuotas.MaxTokenLifetime;

    private const string Algorithm = "AWS4-HMAC-SHA256";
    private const string Service = "dsql";
    private const string Terminator = "aws4_request";
    private const string AdminUser = "admin";

    // SHA-256 of the empty payload.
    private const string EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private const int MaxHostLength = 253;

    private readonly AWSCredentials _credentials;
    private readonly TimeProvider _timeProvider;

    // The last derived signing key; a key is valid for one (access key, secret, date, region).
    private SigningKey? _signingKey;

    /// <summary>Creates a generator that signs with <paramref name="credentials"/>.</summary>
    /// <param name="credentials">
    /// The AWS credentials to sign with. They are fetched (and refreshed, for refreshing credentials) on every
    /// token, so a long-lived generator keeps working as temporary credentials rotate.
    /// </param>
    /// <param name="timeProvider">The clock used for the signing time; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="credentials"/> is null.</exception>
    public DsqlTokenGenerator(AWSCredentials credentials, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        _credentials = credentials;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Generates a token and returns its value (the PostgreSQL password).</summary>
    /// <param name="host">The cluster endpoint host name, without scheme, port or path.</param>
    /// <param name="region">The AWS Region of the endpoint, for example <c>us-east-1</c>.</param>
    /// <param name="user">
    /// The PostgreSQL role. <c>admin</c> (exactly) signs action <c>DbConnectAdmin</c>; any other role signs
    /// <c>DbConnect</c>.
    /// </param>
    /// <param name="expiresIn">The token lifetime, 1 s to 7 days; <see cref="DefaultExpiry"/> when null.</param>
    /// <returns>The token.</returns>
    /// <exception cref="ArgumentException">An argument is empty or malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expiresIn"/> is outside 1 s to 604,800 s.</exception>
    /// <exception cref="DsqlCredentialsException">No credentials were found, or they have expired.</exception>
    public string GenerateToken(string host, string region, string user, TimeSpan? expiresIn = null) =>
        Generate(host, region, user, expiresIn).Value;

    /// <summary>Generates a token and returns its value (the PostgreSQL password).</summary>
    /// <param name="host">The cluster endpoint host name, without scheme, port or path.</param>
    /// <param name="region">The AWS Region of the endpoint, for example <c>us-east-1</c>.</param>
    /// <param name="user">
    /// The PostgreSQL role. <c>admin</c> (exactly) signs action <c>DbConnectAdmin</c>; any other role signs
    /// <c>DbConnect</c>.
    /// </param>
    /// <param name="expiresIn">The token lifetime, 1 s to 7 days; <see cref="DefaultExpiry"/> when null.</param>
    /// <param name="cancellationToken">Stops waiting for the credentials.</param>
    /// <returns>The token.</returns>
    /// <exception cref="ArgumentException">An argument is empty or malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expiresIn"/> is outside 1 s to 604,800 s.</exception>
    /// <exception cref="DsqlCredentialsException">No credentials were found, or they have expired.</exception>
    public async ValueTask<string> GenerateTokenAsync(
        string host,
        string region,
        string user,
        TimeSpan? expiresIn = null,
        CancellationToken cancellationToken = default) =>
        (await GenerateAsync(host, region, user, expiresIn, cancellationToken).ConfigureAwait(false)).Value;

    /// <summary>Generates a token with its signing time and effective expiry.</summary>
    /// <param name="host">The cluster endpoint host name, without scheme, port or path.</param>
    /// <param name="region">The AWS Region of the endpoint, for example <c>us-east-1</c>.</param>
    /// <param name="user">
    /// The PostgreSQL role. <c>admin</c> (exactly) signs action <c>DbConnectAdmin</c>; any other role signs
    /// <c>DbConnect</c>.
    /// </param>
    /// <param name="expiresIn">
    /// The requested lifetime, 1 s to 7 days; <see cref="DefaultExpiry"/> when null. It is shortened when the
    /// credentials expire sooner.
    /// </param>
    /// <returns>The token, when it was signed and when it expires.</returns>
    /// <exception cref="ArgumentException">An argument is empty or malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expiresIn"/> is outside 1 s to 604,800 s.</exception>
    /// <exception cref="DsqlCredentialsException">No credentials were found, or they have expired.</exception>
    public DsqlToken Generate(string host, string region, string user, TimeSpan? expiresIn = null)
    {
        TokenRequest request = Validate(host, region, user, expiresIn);
        ImmutableCredentials credentials;
        DateTime? expiration;
        if (_credentials is DsqlCredentials.DefaultChainCredentials chain)
        {
            (credentials, expiration) = chain.GetWithExpiration();
        }
        else
        {
            credentials = _credentials.GetCredentials();
            expiration = _credentials.Expiration;
        }

        return Sign(request, credentials, expiration);
    }

    /// <summary>Generates a token with its signing time and effective expiry.</summary>
    /// <param name="host">The cluster endpoint host name, without scheme, port or path.</param>
    /// <param name="region">The AWS Region of the endpoint, for example <c>us-east-1</c>.</param>
    /// <param name="user">
    /// The PostgreSQL role. <c>admin</c> (exactly) signs action <c>DbConnectAdmin</c>; any other role signs
    /// <c>DbConnect</c>.
    /// </param>
    /// <param name="expiresIn">
    /// The requested lifetime, 1 s to 7 days; <see cref="DefaultExpiry"/> when null. It is shortened when the
    /// credentials expire sooner.
    /// </param>
    /// <param name="cancellationToken">Stops waiting for the credentials.</param>
    /// <returns>The token, when it was signed and when it expires.</returns>
    /// <exception cref="ArgumentException">An argument is empty or malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expiresIn"/> is outside 1 s to 604,800 s.</exception>
    /// <exception cref="DsqlCredentialsException">No credentials were found, or they have expired.</exception>
    public async ValueTask<DsqlToken> GenerateAsync(
        string host,
        string region,
        string user,
        TimeSpan? expiresIn = null,
        CancellationToken cancellationToken = default)
    {
        TokenRequest request = Validate(host, region, user, expiresIn);
        cancellationToken.ThrowIfCancellationRequested();
        ImmutableCredentials credentials;
        DateTime? expiration;
        if (_credentials is DsqlCredentials.DefaultChainCredentials chain)
        {
            (credentials, expiration) = await chain.GetWithExpirationAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            credentials = await _credentials.GetCredentialsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            expiration = _credentials.Expiration;
        }

        return Sign(request, credentials, expiration);
    }

    // ------------------------------------------------------------------ validation

    private readonly record struct TokenRequest(string Host, string Region, string Action, long RequestedSeconds);

    private static TokenRequest Validate(string host, string region, string user, TimeSpan? expiresIn)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(region);
        ArgumentNullException.ThrowIfNull(user);

        string normalizedHost = ValidateHost(host);

        if (!RegionPattern().IsMatch(region))
        {
            throw new ArgumentException(
                region.Length == 0
                    ? "The region must not be empty; pass the AWS Region of the cluster endpoint, for example 'us-east-1'."
                    : $"The region '{Display(region)}' is not an AWS Region name; pass one like 'us-east-1' (lower case).",
                nameof(region));
        }

        if (string.IsNullOrWhiteSpace(user))
        {
            throw new ArgumentException("The user must not be empty; pass the PostgreSQL role to connect as, for example 'admin'.", nameof(user));
        }

        TimeSpan lifetime = expiresIn ?? DefaultExpiry;
        if (lifetime < MinimumExpiry || lifetime > MaximumExpiry)
        {
            throw new ArgumentOutOfRangeException(
                nameof(expiresIn),
                lifetime,
                $"expiresIn must be between {MinimumExpiry.TotalSeconds:0} second and {MaximumExpiry.TotalSeconds:0} seconds (7 days); "
                + $"got {lifetime.TotalSeconds.ToString(CultureInfo.InvariantCulture)} seconds.");
        }

        string action = string.Equals(user, AdminUser, StringComparison.Ordinal) ? "DbConnectAdmin" : "DbConnect";
        return new TokenRequest(normalizedHost, region, action, (long)lifetime.TotalSeconds);
    }

    private static string ValidateHost(string host)
    {
        if (host.Length == 0 || string.IsNullOrWhiteSpace(host))
        {
            throw new ArgumentException(
                "The host must not be empty; pass the cluster endpoint, for example '<cluster-id>.dsql.us-east-1.on.aws'.",
                nameof(host));
        }

        if (host.Contains("://", StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' must not include a scheme; pass only the host name, for example '<cluster-id>.dsql.us-east-1.on.aws'.",
                nameof(host));
        }

        if (host.IndexOfAny(['/', '?', '#']) >= 0)
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' must not include a path or query; pass only the host name.",
                nameof(host));
        }

        if (host.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' must not include a port; the token is signed for the host name alone.",
                nameof(host));
        }

        if (host.Length > MaxHostLength || !HostPattern().IsMatch(host))
        {
            throw new ArgumentException(
                $"The host '{Display(host)}' is not a valid host name (letters, digits, '-' and '.' separated labels).",
                nameof(host));
        }

        return host.ToLowerInvariant();
    }

    private static string Display(string value)
    {
        const int Max = 120;
        var builder = new StringBuilder(Math.Min(value.Length, Max) + 3);
        foreach (char c in value.Length > Max ? value.AsSpan(0, Max) : value.AsSpan())
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        if (value.Length > Max)
        {
            builder.Append("...");
        }

        return builder.ToString();
    }

    [GeneratedRegex("^[a-z]{2,}(-[a-z0-9]+)+-[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionPattern();

    [GeneratedRegex("^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$", RegexOptions.CultureInvariant)]
    private static partial Regex HostPattern();

    // ------------------------------------------------------------------ signing

    private DsqlToken Sign(TokenRequest request, ImmutableCredentials? credentials, DateTime? credentialsExpiration)
    {
        if (credentials is null || string.IsNullOrEmpty(credentials.AccessKey) || string.IsNullOrEmpty(credentials.SecretKey))
        {
            throw new DsqlCredentialsException(
                "The AWS credentials provided no access key id or secret access key, so DSQL tokens cannot be signed. "
                + "Check the credentials source (environment variables, profile or UseCredentials).");
        }

        DateTimeOffset now = _timeProvider.GetUtcNow().ToUniversalTime();
        var signedAt = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

        // Some SDK credential types also carry the expiration on the resolved credentials; use the earliest known.
        DateTime? immutableExpiration = credentials switch
        {
            AssumeRoleImmutableCredentials assumed => assumed.Expiration,
            SSOImmutableCredentials sso => sso.Expiration,
            _ => null,
        };
        if (immutableExpiration is DateTime fromCredentials
            && (credentialsExpiration is not DateTime reported || AsUtc(fromCredentials) < AsUtc(reported)))
        {
            credentialsExpiration = fromCredentials;
        }

        long seconds = request.RequestedSeconds;
        if (credentialsExpiration is DateTime rawExpiration)
        {
            DateTimeOffset expiration = AsUtc(rawExpiration);
            if (expiration <= now)
            {
                throw new DsqlCredentialsException(
                    "The AWS credentials used to sign DSQL tokens expired at "
                    + $"{expiration.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)} "
                    + $"(now {now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}); "
                    + "a token signed with them would be rejected. Refresh the credentials (for example `aws sso login`) "
                    + "or use a credentials source that refreshes itself.");
            }

            long remaining = (long)Math.Floor((expiration - signedAt).TotalSeconds);
            seconds = Math.Max(1, Math.Min(seconds, remaining));
        }

        string value = BuildToken(request, credentials, signedAt, seconds);
        return new DsqlToken(value, signedAt, signedAt.AddSeconds(seconds));
    }

    private static DateTimeOffset AsUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Local => new DateTimeOffset(value.ToUniversalTime(), TimeSpan.Zero),
        // The SDK keeps expirations in UTC; an unspecified kind is read as UTC.
        _ => new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc), TimeSpan.Zero),
    };

    private string BuildToken(TokenRequest request, ImmutableCredentials credentials, DateTimeOffset signedAt, long seconds)
    {
        string date = signedAt.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        string amzDate = signedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        string scope = $"{date}/{request.Region}/{Service}/{Terminator}";
        string? sessionToken = string.IsNullOrEmpty(credentials.Token) ? null : credentials.Token;

        // Canonical query string: parameter names are fixed and already in code-point order.
        var query = new StringBuilder(512 + (sessionToken?.Length ?? 0) * 3);
        query.Append("Action=").Append(request.Action);
        query.Append("&X-Amz-Algorithm=").Append(Algorithm);
        query.Append("&X-Amz-Credential=");
        AppendEncoded(query, credentials.AccessKey);
        query.Append("%2F");
        AppendEncoded(query, scope);
        query.Append("&X-Amz-Date=").Append(amzDate);
        query.Append("&X-Amz-Expires=").Append(seconds.ToString(CultureInfo.InvariantCulture));
        if (sessionToken is not null)
        {
            query.Append("&X-Amz-Security-Token=");
            AppendEncoded(query, sessionToken);
        }

        query.Append("&X-Amz-SignedHeaders=host");
        string canonicalQuery = query.ToString();

        string canonicalRequest = string.Concat(
            "GET\n/\n",
            canonicalQuery,
            "\nhost:",
            request.Host,
            "\n\nhost\n",
            EmptyPayloadHash);

        Span<byte> requestHash = stackalloc byte[32];
        Sha256Utf8(canonicalRequest, requestHash);

        string stringToSign = string.Concat(Algorithm, "\n", amzDate, "\n", scope, "\n", ToHexLower(requestHash));

        byte[] key = SigningKeyFor(credentials.AccessKey, credentials.SecretKey, date, request.Region);
        Span<byte> signature = stackalloc byte[32];
        HmacUtf8(key, stringToSign, signature);

        return string.Concat(request.Host, "/?", canonicalQuery, "&X-Amz-Signature=", ToHexLower(signature));
    }

    private byte[] SigningKeyFor(string accessKey, string secretKey, string date, string region)
    {
        SigningKey? cached = Volatile.Read(ref _signingKey);
        if (cached is not null
            && string.Equals(cached.AccessKey, accessKey, StringComparison.Ordinal)
            && string.Equals(cached.SecretKey, secretKey, StringComparison.Ordinal)
            && string.Equals(cached.Date, date, StringComparison.Ordinal)
            && string.Equals(cached.Region, region, StringComparison.Ordinal))
        {
            return cached.Key;
        }

        // kSecret = "AWS4" + secret; kDate = HMAC(kSecret, date); kRegion; kService; kSigning.
        byte[] secret = ArrayPool<byte>.Shared.Rent(4 + Encoding.UTF8.GetMaxByteCount(secretKey.Length));
        try
        {
            "AWS4"u8.CopyTo(secret);
            int secretLength = 4 + Encoding.UTF8.GetBytes(secretKey, secret.AsSpan(4));
            Span<byte> first = stackalloc byte[32];
            Span<byte> second = stackalloc byte[32];
            HmacUtf8(secret.AsSpan(0, secretLength), date, first);
            HmacUtf8(first, region, second);
            HmacUtf8(second, Service, first);
            byte[] key = new byte[32];
            HmacUtf8(first, Terminator, key);
            CryptographicOperations.ZeroMemory(first);
            CryptographicOperations.ZeroMemory(second);
            Volatile.Write(ref _signingKey, new SigningKey(accessKey, secretKey, date, region, key));
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
            ArrayPool<byte>.Shared.Return(secret);
        }
    }

    private sealed record SigningKey(string AccessKey, string SecretKey, string Date, string Region, byte[] Key)
    {
        // Never print key material.
        public override string ToString() => "SigV4 signing key";
    }

    private static void Sha256Utf8(string text, Span<byte> destination)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        try
        {
            int length = Encoding.UTF8.GetBytes(text, buffer);
            SHA256.HashData(buffer.AsSpan(0, length), destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void HmacUtf8(ReadOnlySpan<byte> key, string data, Span<byte> destination)
    {
        int max = Encoding.UTF8.GetMaxByteCount(data.Length);
        byte[]? rented = null;
        Span<byte> bytes = max <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            int length = Encoding.UTF8.GetBytes(data, bytes);
            HMACSHA256.HashData(key, bytes[..length], destination);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // SigV4 URI encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) stay, every other UTF-8 byte becomes %XX.
    private static void AppendEncoded(StringBuilder builder, string value)
    {
        const string Hex = "0123456789ABCDEF";
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.' or '~')
            {
                builder.Append(c);
                continue;
            }

            int count;
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                count = new Rune(c, value[i + 1]).EncodeToUtf8(utf8);
                i++;
            }
            else
            {
                count = (Rune.TryCreate(c, out Rune rune) ? rune : Rune.ReplacementChar).EncodeToUtf8(utf8);
            }

            for (int b = 0; b < count; b++)
            {
                builder.Append('%').Append(Hex[utf8[b] >> 4]).Append(Hex[utf8[b] & 0xF]);
            }
        }
    }

    private static string ToHexLower(ReadOnlySpan<byte> bytes)
    {
        const string Hex = "0123456789abcdef";
        Span<char> chars = stackalloc char[bytes.Length * 2];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[2 * i] = Hex[bytes[i] >> 4];
            chars[(2 * i) + 1] = Hex[bytes[i] & 0xF];
        }

        return new string(chars);
    }
}
