using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.Runtime.Credentials;

namespace Dsql.Connector;

/// <summary>
/// Finds the AWS credentials used to sign DSQL tokens: either the AWS SDK's default credential chain or a named
/// profile from the shared AWS files.
/// </summary>
internal static class DsqlCredentials
{
    /// <summary>
    /// Returns credentials for <paramref name="profile"/>, or the AWS SDK default chain when it is
    /// <see langword="null"/>.
    /// </summary>
    /// <param name="profile">A profile in the shared AWS files, or <see langword="null"/> for the default chain.</param>
    /// <returns>
    /// For the default chain, credentials that walk the chain on first use (so nothing touches the network here)
    /// and then follow the SDK's caching and refresh; a failure to find anything surfaces from
    /// <see cref="AWSCredentials.GetCredentials"/> / <see cref="AWSCredentials.GetCredentialsAsync"/> as a
    /// <see cref="DsqlCredentialsException"/>. For a named profile, the SDK's credentials for that profile
    /// (SSO and assume-role profiles refresh themselves), whose failures surface as a
    /// <see cref="DsqlCredentialsException"/> naming the profile.
    /// </returns>
    /// <exception cref="DsqlCredentialsException">The named profile does not exist or cannot be used.</exception>
    public static AWSCredentials Resolve(string? profile)
    {
        if (profile is null)
        {
            return new DefaultChainCredentials();
        }

        if (string.IsNullOrWhiteSpace(profile))
        {
            throw new ArgumentException("The AWS profile name must not be empty; pass null to use the default credential chain.", nameof(profile));
        }

        AWSCredentials? credentials;
        try
        {
            if (new CredentialProfileStoreChain().TryGetAWSCredentials(profile, out credentials))
            {
                return new ProfileCredentials(profile, credentials);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw UnusableProfile(profile, ex);
        }

        throw new DsqlCredentialsException(
            $"The AWS profile '{profile}' was not found in {SharedFiles()} (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE choose other files). "
            + $"Create it with `aws configure --profile {profile}` or `aws configure sso --profile {profile}`, "
            + "fix the Profile option, or pass credentials with UseCredentials.")
        { Profile = profile };
    }

    /// <summary>
    /// Resolves credentials like <see cref="Resolve"/> and then fetches them once, so that a missing or unusable
    /// configuration fails here rather than at the first connection.
    /// </summary>
    /// <param name="profile">A profile in the shared AWS files, or <see langword="null"/> for the default chain.</param>
    /// <param name="cancellationToken">Cancels waiting for the credentials (the SDK's lookup may continue in the background).</param>
    /// <returns>The credentials, already known to resolve.</returns>
    /// <exception cref="DsqlCredentialsException">No credentials were found, or they cannot be used.</exception>
    public static async ValueTask<AWSCredentials> ResolveAsync(string? profile, CancellationToken cancellationToken = default)
    {
        AWSCredentials credentials = Resolve(profile);
        await credentials.GetCredentialsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return credentials;
    }

    /// <summary>A named profile exists but yields no credentials; the SDK's reason is the inner exception, not the message.</summary>
    private static DsqlCredentialsException UnusableProfile(string profile, Exception sdkFailure)
        => new(
            $"The AWS profile '{profile}' (in {SharedFiles()}) did not yield credentials; the AWS SDK's reason is the inner exception. "
            + "For an SSO profile run `aws sso login`; otherwise fix the profile, choose another Profile, or pass credentials with UseCredentials.",
            sdkFailure)
        { Profile = profile };

    /// <summary>
    /// The message when the default chain finds nothing: where it looked and how to fix it, short enough to read in
    /// one go. What the SDK said is the inner exception, not part of this text.
    /// </summary>
    internal static string NoCredentialsMessage()
        => "No AWS credentials were found to sign Aurora DSQL tokens. The AWS SDK's default chain looked at: "
            + "the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; "
            + $"the profile named by AWS_PROFILE (or 'default') in {SharedFiles()}; "
            + "web identity (AWS_WEB_IDENTITY_TOKEN_FILE); container credentials; EC2 instance metadata. "
            + "Fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, "
            + "set the Profile option to an existing profile, or pass credentials with UseCredentials.";

    /// <summary>Names the shared credentials and config files the SDK reads.</summary>
    /// <remarks>
    /// The SDK reads AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE once per process (falling back to
    /// ~/.aws/credentials and ~/.aws/config), and <see cref="Amazon.AWSConfigs.AWSProfilesLocation"/> replaces the
    /// credentials file; the paths named here are the ones it actually uses.
    /// </remarks>
    internal static string SharedFiles()
    {
        string? overridden = Amazon.AWSConfigs.AWSProfilesLocation;
        string credentialsFile = string.IsNullOrEmpty(overridden) ? SharedCredentialsFile.DefaultFilePath : overridden;
        return $"'{credentialsFile}' and '{SharedCredentialsFile.DefaultConfigFilePath}'";
    }

    /// <summary>
    /// A named profile's credentials from the SDK, whose failures (an expired SSO session, a failing
    /// <c>credential_process</c>, a role that cannot be assumed) become a <see cref="DsqlCredentialsException"/>
    /// naming the profile, with the SDK's exception inside.
    /// </summary>
    internal sealed class ProfileCredentials(string profile, AWSCredentials inner) : AWSCredentials
    {
        /// <summary>The expiration the SDK reports for the profile's current credentials.</summary>
        public override DateTime? Expiration
        {
            get => inner.Expiration;
            set { }
        }

        /// <inheritdoc />
        public override ImmutableCredentials GetCredentials()
        {
            try
            {
                return inner.GetCredentials();
            }
            catch (Exception ex) when (IsCredentialFailure(ex))
            {
                throw UnusableProfile(profile, ex);
            }
        }

        /// <inheritdoc />
        public override async Task<ImmutableCredentials> GetCredentialsAsync()
        {
            try
            {
                return await inner.GetCredentialsAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (IsCredentialFailure(ex))
            {
                throw UnusableProfile(profile, ex);
            }
        }
    }

    /// <summary>
    /// Whether an exception raised while fetching credentials is a failure to explain (not a cancellation, not one
    /// already explained).
    /// </summary>
    internal static bool IsCredentialFailure(Exception exception)
        => exception is not (DsqlCredentialsException or OperationCanceledException or OutOfMemoryException);

    /// <summary>
    /// The AWS SDK default chain, walked on first use rather than when the data source is built. Every call goes
    /// through <see cref="DefaultAWSCredentialsIdentityResolver"/>, which caches what it found, notices changes to
    /// the environment and the shared files, and returns credentials that refresh themselves.
    /// </summary>
    internal sealed class DefaultChainCredentials : AWSCredentials
    {
        private AWSCredentials? _last;

        /// <summary>The expiration of the credentials most recently returned, when the source reports one.</summary>
        public override DateTime? Expiration
        {
            get => _last?.Expiration;
            set { }
        }

        /// <inheritdoc />
        public override ImmutableCredentials GetCredentials() => GetWithExpiration().Credentials;

        /// <inheritdoc />
        public override async Task<ImmutableCredentials> GetCredentialsAsync() =>
            (await GetWithExpirationAsync().ConfigureAwait(false)).Credentials;

        /// <summary>The credentials and the expiration reported by the source that produced them.</summary>
        internal (ImmutableCredentials Credentials, DateTime? Expiration) GetWithExpiration()
        {
            AWSCredentials source;
            try
            {
                source = DefaultAWSCredentialsIdentityResolver.GetCredentials();
            }
            catch (AmazonClientException ex)
            {
                throw new DsqlCredentialsException(NoCredentialsMessage(), ex);
            }

            ImmutableCredentials credentials = source.GetCredentials();
            _last = source;
            return (credentials, source.Expiration);
        }

        /// <summary>The credentials and the expiration reported by the source that produced them.</summary>
        internal async Task<(ImmutableCredentials Credentials, DateTime? Expiration)> GetWithExpirationAsync()
        {
            AWSCredentials source;
            try
            {
                source = await DefaultAWSCredentialsIdentityResolver.GetCredentialsAsync().ConfigureAwait(false);
            }
            catch (AmazonClientException ex)
            {
                throw new DsqlCredentialsException(NoCredentialsMessage(), ex);
            }

            ImmutableCredentials credentials = await source.GetCredentialsAsync().ConfigureAwait(false);
            _last = source;
            return (credentials, source.Expiration);
        }
    }
}
