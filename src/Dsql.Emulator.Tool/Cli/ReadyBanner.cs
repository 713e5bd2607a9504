using System.Globalization;

namespace Dsql.Emulator.Tool.Cli;

/// <summary>
/// What the command prints once the emulator accepts connections: per endpoint its address and ready-to-use
/// connection strings for Dsql.Connector and psql, the faults given with <c>--fault</c>, the CA, the credentials to
/// sign with, and last
/// <c>ready &lt;address&gt;:&lt;port&gt;</c> (tests and the performance lab wait for that line).
/// </summary>
/// <remarks>Secrets are never printed, except AWS's public documentation example key that <c>--help</c> shows too.</remarks>
internal static class ReadyBanner
{
    public static void Write(TextWriter output, DsqlEmulator emulator, DsqlEmulatorOptions options, string selfCommand, IReadOnlyList<EndpointFaultSpec>? faults = null)
    {
        string? keyArguments = options.AccessKeys.Count == 0 ? null : " --access-key " + options.AccessKeys[0].AccessKeyId;
        foreach (var endpoint in emulator.Endpoints)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"endpoint {endpoint.Host} region={endpoint.Region} listening={endpoint.ListenAddress}:{endpoint.Port}"));
            output.WriteLine($"connector {endpoint.ConnectorConnectionString()}");
            string endpointArgument = endpoint.Host == EmulatorEndpoint.DefaultHost ? "" : $" --endpoint {endpoint.Host}";
            string regionArgument = EmulatorEndpoint.RegionFromHost(endpoint.Host) == endpoint.Region ? "" : $" --region {endpoint.Region}";
            output.WriteLine($"psql PGPASSWORD=\"$({selfCommand} token{endpointArgument}{regionArgument}{keyArguments})\" psql \"{endpoint.LibpqConnectionString()}\"");
        }
        foreach (var fault in faults ?? [])
            output.WriteLine($"fault {fault.Host} {fault.Describe()}");
        output.WriteLine($"ca {emulator.CaCertificatePath}");
        if (options.AccessKeys.Count == 0)
        {
            output.WriteLine($"credentials AWS_ACCESS_KEY_ID={DsqlEmulatorOptions.ExampleAccessKeyId} AWS_SECRET_ACCESS_KEY={DsqlEmulatorOptions.ExampleSecretAccessKey} " +
                             "(AWS's public documentation example key, accepted by default)");
        }
        else
        {
            output.WriteLine("credentials access key " + string.Join(", ", options.AccessKeys.Select(key => key.AccessKeyId)) +
                             $" (with the secret you gave; for the token command set {CommandLine.SecretKeyVariable} or add --secret-key-file)");
        }
        var first = emulator.Endpoints[0];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ready {first.ListenAddress}:{first.Port}"));
    }

    /// <summary>
    /// How this program can be run again from a shell: <c>dsql-emulator</c> when installed as a tool, else the
    /// path of its executable (or <c>dotnet &lt;dll&gt;</c>).
    /// </summary>
    public static string SelfCommand()
    {
        string? process = Environment.ProcessPath;
        if (process is null) return "dsql-emulator";
        string name = Path.GetFileNameWithoutExtension(process);
        if (name == "dsql-emulator") return IsOnPath(process) ? "dsql-emulator" : Quote(process);
        if (name == "dotnet") return "dotnet " + Quote(typeof(ReadyBanner).Assembly.Location);
        return Quote(process);
    }

    private static bool IsOnPath(string process)
    {
        string? directory = Path.GetDirectoryName(process);
        foreach (string entry in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            if (directory is not null && string.Equals(Path.GetFullPath(entry.Length == 0 ? "." : entry).TrimEnd('/'), directory.TrimEnd('/'), StringComparison.Ordinal))
                return true;
        return false;
    }

    private static string Quote(string path) => path.AsSpan().IndexOfAny(" \"'$`\\") < 0 ? path : "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
