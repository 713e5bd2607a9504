using Amazon.Runtime;
using Dsql.Connector.Tests.Infrastructure;

namespace Dsql.Connector.Tests;

[Collection(AwsEnvironmentCollection.Name)]
public class CredentialsTests
{
    private const string Host = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws";
    private const string Region = "us-east-1";
    private const string AccessKeyId = "AKIAIOSFODNN7EXAMPLE";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    private const string SessionToken = "IQoJb3JpZ2luX2VjEXAMPLE//session+token";

    // Generous, but keeps a hanging network lookup from stalling the run.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void UnknownProfileNamesTheProfileAndTheFilesSearched()
    {
        using var env = new AwsEnvironment();

        var ex = Assert.Throws<DsqlCredentialsException>(() => DsqlCredentials.Resolve("no-such-profile"));

        Assert.Equal("no-such-profile", ex.Profile);
        Assert.Contains("'no-such-profile'", ex.Message);
        Assert.Contains(env.CredentialsFile, ex.Message);
        Assert.Contains(env.ConfigFile, ex.Message);
        Assert.Contains("aws configure", ex.Message);
        Assert.Contains("UseCredentials", ex.Message);
        Assert.True(ex.Message.Length <= 500 + SharedFilePathsLength, $"{ex.Message.Length} characters: {ex.Message}");
    }

    [Fact]
    public async Task NamedProfileFromTheConfigFileSignsTokens()
    {
        using var env = new AwsEnvironment();
        File.WriteAllText(env.ConfigFile, $"[profile dsql-test]\naws_access_key_id = {AccessKeyId}\naws_secret_access_key = {Secret}\n");

        AWSCredentials credentials = DsqlCredentials.Resolve("dsql-test");
        string token = await new DsqlTokenGenerator(credentials).GenerateTokenAsync(Host, Region, "admin");

        Assert.Contains($"X-Amz-Credential={AccessKeyId}%2F", token);
    }

    [Fact]
    public void NamedProfileFromTheCredentialsFileWithASessionTokenSignsTokens()
    {
        using var env = new AwsEnvironment();
        File.WriteAllText(
            env.CredentialsFile,
            $"[dsql-session]\naws_access_key_id = {AccessKeyId}\naws_secret_access_key = {Secret}\naws_session_token = {SessionToken}\n");

        string token = new DsqlTokenGenerator(DsqlCredentials.Resolve("dsql-session")).GenerateToken(Host, Region, "app");

        Assert.Contains("X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2F%2Fsession%2Btoken&", token);
    }

    [Fact]
    public async Task ProfileThatYieldsNoCredentialsSaysSoShortlyWithTheSdkReasonInside()
    {
        using var env = new AwsEnvironment();
        File.WriteAllText(env.ConfigFile, "[profile dsql-broken-process]\ncredential_process = /nonexistent/dsql-credential-helper\n");

        var eager = await Assert.ThrowsAsync<DsqlCredentialsException>(() => DsqlCredentials.ResolveAsync("dsql-broken-process").AsTask().WaitAsync(Bound));
        AssertUnusableProfile(eager);

        // Lazily, as a data source with the Profile option meets it at its first connect: sync and async.
        var generator = new DsqlTokenGenerator(DsqlCredentials.Resolve("dsql-broken-process"));
        AssertUnusableProfile(await Assert.ThrowsAsync<DsqlCredentialsException>(() => generator.GenerateTokenAsync(Host, Region, "admin").AsTask().WaitAsync(Bound)));
        AssertUnusableProfile(Assert.Throws<DsqlCredentialsException>(() => generator.GenerateToken(Host, Region, "admin")));

        void AssertUnusableProfile(DsqlCredentialsException ex)
        {
            Assert.Equal("dsql-broken-process", ex.Profile);
            Assert.StartsWith("The AWS profile 'dsql-broken-process' (in ", ex.Message);
            Assert.Contains(env.ConfigFile, ex.Message);
            Assert.Contains("UseCredentials", ex.Message);
            Assert.NotNull(ex.InnerException);
            Assert.IsNotType<DsqlCredentialsException>(ex.InnerException);
            Assert.DoesNotContain(ex.InnerException!.Message, ex.Message);
        }
    }

    [Fact]
    public async Task FailingCredentialsGivenByTheUserAreExplainedWithTheSdkReasonInside()
    {
        using var env = new AwsEnvironment();
        var generator = new DsqlTokenGenerator(new FailingCredentials());

        foreach (var ex in new[]
        {
            Assert.Throws<DsqlCredentialsException>(() => generator.GenerateToken(Host, Region, "admin")),
            await Assert.ThrowsAsync<DsqlCredentialsException>(() => generator.GenerateTokenAsync(Host, Region, "admin").AsTask()),
        })
        {
            Assert.StartsWith("The AWS credentials of type FailingCredentials could not produce keys", ex.Message);
            Assert.Contains("UseCredentials", ex.Message);
            Assert.IsType<AmazonClientException>(ex.InnerException);
            Assert.DoesNotContain("session expired", ex.Message);
        }
    }

    private sealed class FailingCredentials : AWSCredentials
    {
        public override ImmutableCredentials GetCredentials() => throw new AmazonClientException("session expired");

        public override Task<ImmutableCredentials> GetCredentialsAsync() => Task.FromException<ImmutableCredentials>(new AmazonClientException("session expired"));
    }

    [Fact]
    public void EmptyProfileNameIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => DsqlCredentials.Resolve(" "));
        Assert.Equal("profile", ex.ParamName);
    }

    [Fact]
    public async Task DefaultChainWithNothingConfiguredFailsOnFirstUseWithGuidance()
    {
        using var env = new AwsEnvironment();

        // Resolving is lazy: nothing is looked up yet.
        AWSCredentials credentials = DsqlCredentials.Resolve(null);

        var ex = await Assert.ThrowsAsync<DsqlCredentialsException>(() => credentials.GetCredentialsAsync().WaitAsync(Bound));
        AssertGuidance(ex);

        var sync = Assert.Throws<DsqlCredentialsException>(() => credentials.GetCredentials());
        AssertGuidance(sync);

        var eager = await Assert.ThrowsAsync<DsqlCredentialsException>(() => DsqlCredentials.ResolveAsync(null).AsTask().WaitAsync(Bound));
        AssertGuidance(eager);

        var generator = new DsqlTokenGenerator(credentials);
        var fromGenerator = await Assert.ThrowsAsync<DsqlCredentialsException>(() => generator.GenerateTokenAsync(Host, Region, "admin").AsTask().WaitAsync(Bound));
        AssertGuidance(fromGenerator);
    }

    [Fact]
    public async Task DefaultChainUsesEnvironmentVariables()
    {
        using var env = new AwsEnvironment();
        env.Set("AWS_ACCESS_KEY_ID", AccessKeyId);
        env.Set("AWS_SECRET_ACCESS_KEY", Secret);
        env.Set("AWS_SESSION_TOKEN", SessionToken);

        AWSCredentials credentials = await DsqlCredentials.ResolveAsync(null).AsTask().WaitAsync(Bound);
        var generator = new DsqlTokenGenerator(credentials);

        string async = await generator.GenerateTokenAsync(Host, Region, "admin").AsTask().WaitAsync(Bound);
        string sync = generator.GenerateToken(Host, Region, "admin");

        Assert.Contains($"X-Amz-Credential={AccessKeyId}%2F", async);
        Assert.Contains("X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2F%2Fsession%2Btoken&", async);
        Assert.Contains($"X-Amz-Credential={AccessKeyId}%2F", sync);
    }

    [Fact]
    public async Task DefaultChainFollowsAwsProfile()
    {
        using var env = new AwsEnvironment();
        File.WriteAllText(env.ConfigFile, $"[profile chosen]\naws_access_key_id = AKIACHOSENEXAMPLE\naws_secret_access_key = {Secret}\n");
        env.Set("AWS_PROFILE", "chosen");

        string token = await new DsqlTokenGenerator(DsqlCredentials.Resolve(null)).GenerateTokenAsync(Host, Region, "admin").AsTask().WaitAsync(Bound);

        Assert.Contains("X-Amz-Credential=AKIACHOSENEXAMPLE%2F", token);
    }

    [Fact]
    public void NoCredentialsMessageNeverCarriesSecrets()
    {
        using var env = new AwsEnvironment();
        env.Set("AWS_SECRET_ACCESS_KEY", Secret); // a half-configured environment: secret without key id

        var ex = Assert.Throws<DsqlCredentialsException>(() => DsqlCredentials.Resolve(null).GetCredentials());

        Assert.DoesNotContain(Secret, ex.Message);
        for (Exception? inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            Assert.DoesNotContain(Secret, inner.Message);
        }
    }

    private static void AssertGuidance(DsqlCredentialsException ex)
    {
        Assert.Null(ex.Profile);
        string message = ex.Message;
        Assert.Contains("No AWS credentials were found", message);
        Assert.Contains("AWS_ACCESS_KEY_ID", message);
        Assert.Contains("AWS_SECRET_ACCESS_KEY", message);
        Assert.Contains("AWS_PROFILE", message);
        Assert.Contains("AWS_WEB_IDENTITY_TOKEN_FILE", message);
        Assert.Contains("container", message);
        Assert.Contains("instance metadata", message);
        Assert.Contains("aws configure", message);
        Assert.Contains("aws sso login", message);
        Assert.Contains("Profile option", message);
        Assert.Contains("UseCredentials", message);
        var sdk = Assert.IsAssignableFrom<AmazonClientException>(ex.InnerException);

        // Short: where the chain looked and the fix. The SDK's own (long) account stays in the inner exception.
        Assert.DoesNotContain(sdk.Message, message);
        Assert.True(message.Length <= 700 + SharedFilePathsLength, $"{message.Length} characters: {message}");
        Assert.False(ex.IsTransient);
        Assert.IsAssignableFrom<Npgsql.NpgsqlException>(ex);
    }

    private static int SharedFilePathsLength =>
        Amazon.Runtime.CredentialManagement.SharedCredentialsFile.DefaultFilePath.Length
        + Amazon.Runtime.CredentialManagement.SharedCredentialsFile.DefaultConfigFilePath.Length;
}
