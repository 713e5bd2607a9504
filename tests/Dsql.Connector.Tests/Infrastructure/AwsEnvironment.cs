namespace Dsql.Connector.Tests.Infrastructure;

/// <summary>Tests that change process-wide AWS environment variables run one at a time, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AwsEnvironmentCollection
{
    public const string Name = "AWS environment";
}

/// <summary>
/// An isolated AWS configuration for one test: every variable the SDK's credential chain reads is cleared, HOME and
/// the shared files point at empty temporary files, and instance metadata is disabled. Disposing restores the
/// previous values and empties the files.
/// </summary>
/// <remarks>
/// The SDK reads AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE once per process, so every test shares one
/// temporary directory; tests use distinct profile names because the SDK also caches what it read from the files.
/// </remarks>
public sealed class AwsEnvironment : IDisposable
{
    private static readonly string[] Variables =
    [
        "HOME", "USERPROFILE",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCOUNT_ID",
        "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_REGION", "AWS_DEFAULT_REGION",
    ];

    private readonly Dictionary<string, string?> _saved = new(StringComparer.Ordinal);

    public AwsEnvironment()
    {
        foreach (string name in Variables)
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, null);
        }

        Directory = SharedDirectory.Value;
        CredentialsFile = Path.Combine(Directory, "credentials");
        ConfigFile = Path.Combine(Directory, "config");
        File.WriteAllText(CredentialsFile, string.Empty);
        File.WriteAllText(ConfigFile, string.Empty);

        Set("HOME", Directory);
        Set("USERPROFILE", Directory);
        Set("AWS_SHARED_CREDENTIALS_FILE", CredentialsFile);
        Set("AWS_CONFIG_FILE", ConfigFile);
        Set("AWS_EC2_METADATA_DISABLED", "true");

        // Never let a test read (or a helper write) the real ~/.aws files.
        if (Amazon.Runtime.CredentialManagement.SharedCredentialsFile.DefaultFilePath != CredentialsFile
            || Amazon.Runtime.CredentialManagement.SharedCredentialsFile.DefaultConfigFilePath != ConfigFile
            || !string.IsNullOrEmpty(Amazon.AWSConfigs.AWSProfilesLocation))
        {
            Dispose();
            throw new InvalidOperationException(
                "The AWS SDK already fixed its shared file locations before AwsEnvironment was used; "
                + "every test touching AWS profiles must use AwsEnvironment.");
        }
    }

    private static readonly Lazy<string> SharedDirectory = new(() =>
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("dsql-aws-env-").FullName;
        // One folder per test process, removed when the process ends.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        return directory;
    });

    /// <summary>
    /// Runs when the test assembly loads, before any test can touch the AWS SDK: the SDK reads the shared file
    /// locations once per process, so they must point at the test folder from the start (never the real ~/.aws).
    /// </summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void PointTheSdkAtTheTestFolder()
    {
        string directory = SharedDirectory.Value;
        string credentials = Path.Combine(directory, "credentials"), config = Path.Combine(directory, "config");
        File.WriteAllText(credentials, string.Empty);
        File.WriteAllText(config, string.Empty);
        Environment.SetEnvironmentVariable("AWS_SHARED_CREDENTIALS_FILE", credentials);
        Environment.SetEnvironmentVariable("AWS_CONFIG_FILE", config);
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
    }

    public string Directory { get; }

    public string CredentialsFile { get; }

    public string ConfigFile { get; }

    public void Set(string name, string? value)
    {
        if (!_saved.ContainsKey(name))
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
        }

        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose()
    {
        foreach (var (name, value) in _saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        File.WriteAllText(CredentialsFile, string.Empty);
        File.WriteAllText(ConfigFile, string.Empty);
    }
}
