using System.Globalization;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Signing;

namespace Dsql.Connector;

/// <summary>
/// Generates Aurora DSQL IAM authentication tokens: SigV4 presigned <c>GET /?Action=DbConnect[Admin]</c> requests
/// for service <c>dsql</c>, without the leading <c>https://</c>. Signing is local; only resolving the credentials
/// may touch the network (instance metadata, SSO, STS).
/// </summary>
/// <remarks>
/// The signature is computed by AWSSDK.Core's SigV4 presigner (<see cref="AWSSigV4Signer"/>); this type adds only
/// what DSQL needs on top of it: the argument checks, the action (<c>DbConnectAdmin</c> for <c>admin</c>,
/// <c>DbConnect</c> otherwise), the clamp of the lifetime to the credentials' expiry, and the token's shape
/// (no scheme, <c>X-Amz-Signature</c> last).
/// <para>
/// Instances are thread-safe. Tokens signed with temporary credentials never claim a lifetime past the
/// credentials' expiration, since DSQL stops accepting them at that point whatever <c>X-Amz-Expires</c> says.
/// </para>
/// </remarks>
public sealed partial class DsqlTokenGenerator
{
    /// <summary>The lifetime used when none is given: 900 seconds (15 minutes), as in the AWS SDKs.</summary>
    public static readonly TimeSpan DefaultExpiry = DsqlQuotas.DefaultTokenLifetime;

    /// <summary>The shortest lifetime a token can be signed with: 1 second.</summary>
    public static readonly TimeSpan MinimumExpiry = TimeSpan.FromSeconds(1);

    /// <summary>The longest lifetime SigV4 allows for a presigned request: 604,800 seconds (7 days).</summary>
    public static readonly TimeSpan MaximumExpiry = DsqlQuotas.MaxTokenLifetime;

    private const string Service = "dsql";
    private const string Scheme = "https://";
    private const string AdminUser = "admin";
    private const int MaxHostLength = 253;

    private readonly AWSCredentials _credentials;
    private readonly TimeProvider _timeProvider;

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
        try
        {
            if (_credentials is DsqlCredentials.DefaultChainCredentials chain)
            {
                (credentials, expiration) = chain.GetWithExpiration();
            }
            else
            {
                credentials = _credentials.GetCredentials();
                expiration = _credentials.Expiration;
            }
        }
        catch (Exception ex) when (DsqlCredentials.IsCredentialFailure(ex))
        {
            throw CredentialsFailed(ex);
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
        try
        {
            if (_credentials is DsqlCredentials.DefaultChainCredentials chain)
            {
                (credentials, expiration) = await chain.GetWithExpirationAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                credentials = await _credentials.GetCredentialsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                expiration = _credentials.Expiration;
            }
        }
        catch (Exception ex) when (DsqlCredentials.IsCredentialFailure(ex))
        {
            throw CredentialsFailed(ex);
        }

        return Sign(request, credentials, expiration);
    }

    // ------------------------------------------------------------------ signing

    /// <summary>The credentials' source failed (an expired SSO session, a role that cannot be assumed, ...).</summary>
    private DsqlCredentialsException CredentialsFailed(Exception sdkFailure)
    {
        string source = _credentials is DsqlCredentials.DefaultChainCredentials
            ? "found by the AWS SDK's default credential chain"
            : $"of type {_credentials.GetType().Name}";
        return new DsqlCredentialsException(
            $"The AWS credentials {source} could not produce keys to sign DSQL tokens; the AWS SDK's reason is the inner exception. "
            + "Refresh them (for example `aws sso login`), fix their source, or pass other credentials with UseCredentials.",
            sdkFailure);
    }

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

        string value = Presign(request, credentials, signedAt, seconds);
        return new DsqlToken(value, signedAt, signedAt.AddSeconds(seconds));
    }

    private static DateTimeOffset AsUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Local => new DateTimeOffset(value.ToUniversalTime(), TimeSpan.Zero),
        // The SDK keeps expirations in UTC; an unspecified kind is read as UTC.
        _ => new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc), TimeSpan.Zero),
    };

    /// <summary>
    /// Presigns <c>GET https://{host}/?Action={action}</c> for service <c>dsql</c> with AWSSDK.Core's SigV4 signer
    /// (only the <c>host</c> header signed, the empty payload) and returns the URL without its scheme.
    /// </summary>
    private static string Presign(TokenRequest request, ImmutableCredentials credentials, DateTimeOffset signedAt, long seconds)
    {
        var signingRequest = new AWSSigningRequest
        {
            HttpMethod = HttpMethod.Get,
            RequestUri = new Uri($"https://{request.Host}/?Action={request.Action}"),
        };
        var parameters = new AWSSigV4Parameters
        {
            // Already resolved (and checked against their expiry) above: the signer must not fetch them again.
            Credentials = new ResolvedCredentials(credentials),
            Region = RegionEndpoint.GetBySystemName(request.Region),
            Service = Service,
            SignedAt = signedAt.UtcDateTime,
        };
        string url = AWSSigV4Signer.Presign(signingRequest, parameters, TimeSpan.FromSeconds(seconds)).Uri.AbsoluteUri;
        return CanonicalOrder(url[Scheme.Length..]);
    }

    /// <summary>
    /// Puts the query parameters of the SDK's presigned URL in the order DSQL tokens have always had, the order of
    /// AWS's JavaScript DSQL signer: the signed parameters sorted by name (their canonical order) and
    /// <c>X-Amz-Signature</c> last. The SDK emits them in another order; reordering changes nothing that is signed.
    /// </summary>
    private static string CanonicalOrder(string presigned)
    {
        const string Signature = "X-Amz-Signature=";
        int query = presigned.IndexOf('?', StringComparison.Ordinal);
        string[] parameters = presigned[(query + 1)..].Split('&');
        string? signature = null;
        var signed = new List<string>(parameters.Length);
        foreach (string parameter in parameters)
        {
            if (parameter.StartsWith(Signature, StringComparison.Ordinal))
            {
                signature = parameter;
            }
            else
            {
                signed.Add(parameter);
            }
        }

        if (query < 0 || signature is null)
        {
            throw new InvalidOperationException("The AWS SDK's presigned URL carries no X-Amz-Signature parameter.");
        }

        // Parameter names are distinct: ordering by name (ordinal, as SigV4 canonicalization does) is a total order.
        signed.Sort(static (x, y) => string.CompareOrdinal(Name(x), Name(y)));
        signed.Add(signature);
        return string.Concat(presigned.AsSpan(0, query + 1), string.Join('&', signed));

        static string Name(string parameter)
        {
            int eq = parameter.IndexOf('=', StringComparison.Ordinal);
            return eq < 0 ? parameter : parameter[..eq];
        }
    }

    /// <summary>Credentials already fetched, handed to the SDK's signer as they are.</summary>
    private sealed class ResolvedCredentials(ImmutableCredentials credentials) : AWSCredentials
    {
        public override ImmutableCredentials GetCredentials() => credentials;

        public override Task<ImmutableCredentials> GetCredentialsAsync() => Task.FromResult(credentials);
    }
}
