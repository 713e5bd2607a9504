using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Dsql.Emulator.Tests.Infrastructure;

namespace Dsql.Connector.Tests;

/// <summary>
/// The packages as users get them: <c>dotnet pack</c> of every packable project into a temporary feed (under a
/// version of its own, so NuGet's cache never serves an older build), then the nuspec of each (README, icon,
/// dependency groups per target framework) and a net8.0 consumer restored from that feed.
/// </summary>
[Collection(PackagesCollection.Name)]
public sealed class PackageTests(PackagesFixture packages)
{
    [Theory]
    [InlineData("Dsql.Connector")]
    [InlineData("Dsql.Connector.DependencyInjection")]
    [InlineData("Dsql.Connector.OpenTelemetry")]
    [InlineData("Dsql.Emulator")]
    [InlineData("Dsql.Emulator.Tool")]
    [InlineData("Dsql.EntityFrameworkCore")]
    [InlineData("Dsql.Sync")]
    [InlineData("Dsql.Sync.Tool")]
    public void Every_package_carries_its_readme_and_the_icon(string id)
    {
        using var archive = ZipFile.OpenRead(packages.PathOf(id));
        var metadata = Nuspec(archive).Root!.Element(Ns(archive, "metadata"))!;
        Assert.Equal("README.md", metadata.Element(Ns(archive, "readme"))?.Value);
        Assert.Equal("icon.png", metadata.Element(Ns(archive, "icon"))?.Value);
        string readme = Read(archive, "README.md");
        Assert.StartsWith("# " + id, readme, StringComparison.Ordinal);
        var icon = archive.GetEntry("icon.png");
        Assert.NotNull(icon);
        using var stream = icon.Open();
        var header = new byte[8];
        stream.ReadExactly(header);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, header);
    }

    [Theory]
    [InlineData("Dsql.Connector")]
    [InlineData("Dsql.Connector.DependencyInjection")]
    [InlineData("Dsql.Connector.OpenTelemetry")]
    [InlineData("Dsql.Emulator")]
    [InlineData("Dsql.EntityFrameworkCore")]
    [InlineData("Dsql.Sync")]
    public void Every_library_package_ships_its_xml_documentation_beside_each_assembly(string id)
    {
        using var archive = ZipFile.OpenRead(packages.PathOf(id));
        var assemblies = archive.Entries.Where(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal) && e.FullName.EndsWith(id + ".dll", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(assemblies);
        foreach (var assembly in assemblies)
        {
            string xml = assembly.FullName[..^".dll".Length] + ".xml";
            var entry = archive.GetEntry(xml);
            Assert.True(entry is not null, $"{id}: {xml} is missing (IntelliSense would show no documentation)");
            using var reader = new StreamReader(entry.Open());
            Assert.Contains("<member name=", reader.ReadToEnd(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Dsql.Connector", "Microsoft.Extensions.Logging.Abstractions")]
    [InlineData("Dsql.Connector.DependencyInjection", "Microsoft.Extensions.Options")]
    [InlineData("Dsql.Connector.DependencyInjection", "Microsoft.Extensions.Diagnostics.HealthChecks")]
    public void Microsoft_Extensions_floors_follow_the_target_framework(string id, string dependency)
    {
        using var archive = ZipFile.OpenRead(packages.PathOf(id));
        var groups = DependencyGroups(archive);
        Assert.Equal(["net10.0", "net8.0"], groups.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("8.0.0", groups["net8.0"][dependency]);
        Assert.StartsWith("10.0.", groups["net10.0"][dependency], StringComparison.Ordinal);
        foreach (var (name, version) in groups["net8.0"])
            if (name.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal))
                Assert.True(version.StartsWith("8.0.", StringComparison.Ordinal), $"{id} net8.0 depends on {name} {version}");
    }

    [Fact]
    public void The_core_package_has_no_dependency_injection_or_health_check_dependency()
    {
        using var archive = ZipFile.OpenRead(packages.PathOf("Dsql.Connector"));
        foreach (var (framework, dependencies) in DependencyGroups(archive))
        {
            Assert.DoesNotContain("Microsoft.Extensions.DependencyInjection.Abstractions", dependencies.Keys);
            Assert.DoesNotContain("Microsoft.Extensions.Options", dependencies.Keys);
            Assert.DoesNotContain("Microsoft.Extensions.Configuration.Abstractions", dependencies.Keys);
            Assert.DoesNotContain("Microsoft.Extensions.Diagnostics.HealthChecks", dependencies.Keys);
            Assert.DoesNotContain("System.Threading.RateLimiting", dependencies.Keys);
            Assert.True(dependencies.ContainsKey("Npgsql"), $"{framework}: Npgsql missing");
        }
        using var di = ZipFile.OpenRead(packages.PathOf("Dsql.Connector.DependencyInjection"));
        foreach (var (_, dependencies) in DependencyGroups(di))
            Assert.Equal(packages.Version, dependencies["Dsql.Connector"]);
    }

    [Fact]
    public void The_EF_Core_package_targets_net10_only_and_depends_on_the_connector_and_Npgsql_s_provider()
    {
        // EF Core 10 runs on net10.0 only: one dependency group, one library folder.
        using var archive = ZipFile.OpenRead(packages.PathOf("Dsql.EntityFrameworkCore"));
        var groups = DependencyGroups(archive);
        Assert.Equal(["net10.0"], groups.Keys);
        var dependencies = groups["net10.0"];
        Assert.Equal(packages.Version, dependencies["Dsql.Connector"]);
        Assert.True(NuGetVersion(dependencies["Npgsql.EntityFrameworkCore.PostgreSQL"]) >= new Version(10, 0, 3),
            $"Npgsql.EntityFrameworkCore.PostgreSQL floor {dependencies["Npgsql.EntityFrameworkCore.PostgreSQL"]}");
        Assert.True(NuGetVersion(dependencies["Npgsql.EntityFrameworkCore.PostgreSQL"]) < new Version(11, 0),
            "the provider floor must stay on the EF Core 10 line");
        var libraries = archive.Entries.Where(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal)).Select(e => e.FullName).ToList();
        Assert.Contains("lib/net10.0/Dsql.EntityFrameworkCore.dll", libraries);
        Assert.All(libraries, entry => Assert.StartsWith("lib/net10.0/", entry, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_net10_consumer_of_the_EF_Core_package_restores_EF_Core_10_and_this_build_of_the_connector()
    {
        var resolved = await packages.RestoreConsumerAsync("net10.0", "Dsql.EntityFrameworkCore");
        Assert.Equal(packages.Version, resolved["Dsql.EntityFrameworkCore"]);
        Assert.Equal(packages.Version, resolved["Dsql.Connector"]);
        Assert.StartsWith("10.0.", resolved["Npgsql.EntityFrameworkCore.PostgreSQL"], StringComparison.Ordinal);
        Assert.StartsWith("10.0.", resolved["Microsoft.EntityFrameworkCore.Relational"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_net8_consumer_restores_the_8_0_line_of_Microsoft_Extensions()
    {
        var resolved = await packages.RestoreConsumerAsync("net8.0");
        Assert.Equal(packages.Version, resolved["Dsql.Connector.DependencyInjection"]);
        Assert.Equal(packages.Version, resolved["Dsql.Connector"]);
        foreach (var (name, version) in resolved)
            if (name.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal))
                Assert.True(version.StartsWith("8.0.", StringComparison.Ordinal), $"a net8.0 consumer got {name} {version}");
        Assert.True(resolved.ContainsKey("Microsoft.Extensions.Options"));
    }

    [Fact]
    public async Task A_net10_consumer_restores_the_10_0_line()
    {
        var resolved = await packages.RestoreConsumerAsync("net10.0");
        Assert.StartsWith("10.0.", resolved["Microsoft.Extensions.Options"], StringComparison.Ordinal);
    }

    /// <summary>The version of a nuspec floor (<c>10.0.3</c>, or <c>[10.0.3, )</c> in range form).</summary>
    private static Version NuGetVersion(string floor) => Version.Parse(floor.Trim('[', '(', ' ').Split(',')[0].Split('-')[0]);

    private static XName Ns(ZipArchive archive, string name) => Nuspec(archive).Root!.Name.Namespace + name;

    private static XDocument Nuspec(ZipArchive archive)
        => XDocument.Parse(Read(archive, archive.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).FullName));

    private static string Read(ZipArchive archive, string entry)
    {
        using var reader = new StreamReader(archive.GetEntry(entry)!.Open(), Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>Dependency groups by target framework (<c>net8.0</c>), each dependency id to its version floor.</summary>
    private static Dictionary<string, Dictionary<string, string>> DependencyGroups(ZipArchive archive)
    {
        var nuspec = Nuspec(archive);
        var ns = nuspec.Root!.Name.Namespace;
        return nuspec.Descendants(ns + "group").ToDictionary(
            group => group.Attribute("targetFramework")!.Value,
            group => group.Elements(ns + "dependency").ToDictionary(d => d.Attribute("id")!.Value, d => d.Attribute("version")!.Value));
    }
}

[CollectionDefinition(Name)]
public sealed class PackagesCollection : ICollectionFixture<PackagesFixture>
{
    public const string Name = "packages";
}

/// <summary>Packs every packable project once per test run into a temporary feed.</summary>
public sealed class PackagesFixture : IAsyncLifetime
{
    private static readonly string[] Projects =
        ["Dsql.Connector", "Dsql.Connector.DependencyInjection", "Dsql.Connector.OpenTelemetry", "Dsql.Emulator", "Dsql.Emulator.Tool", "Dsql.EntityFrameworkCore", "Dsql.Sync", "Dsql.Sync.Tool"];

    private static readonly TimeSpan CommandLimit = TimeSpan.FromMinutes(5);

    private readonly string _root = Directory.CreateTempSubdirectory("dsql-packages-").FullName;

    /// <summary>A version no earlier run used, so restores never take a cached package of another build.</summary>
    public string Version { get; } = $"0.0.1-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Guid.NewGuid().ToString("N")[..8]}";

    public string Feed => Path.Combine(_root, "feed");

    public string PathOf(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    public async Task InitializeAsync()
    {
        string repository = RepositoryRoot();
        // The emulator's documented-commands test may be building these projects in another test process.
        using var buildLock = await RepositoryBuildLock.AcquireAsync(repository, TimeSpan.FromMinutes(10));
        foreach (string project in Projects)
            await RunAsync(repository, "pack", Path.Combine("src", project), "-c", "Release", "-o", Feed, $"-p:PackageVersion={Version}", "-nologo");
    }

    /// <summary>
    /// Restores a library for <paramref name="framework"/> that references <paramref name="packageIds"/> (by default
    /// the DI and OpenTelemetry packages); returns what NuGet resolved.
    /// </summary>
    public async Task<Dictionary<string, string>> RestoreConsumerAsync(string framework, params string[] packageIds)
    {
        if (packageIds.Length == 0) packageIds = ["Dsql.Connector.DependencyInjection", "Dsql.Connector.OpenTelemetry"];
        string directory = Path.Combine(_root, $"consumer-{framework}-{string.Join('-', packageIds)}");
        Directory.CreateDirectory(directory);
        string references = string.Join(' ', packageIds.Select(id => $"<PackageReference Include=\"{id}\" Version=\"{Version}\" />"));
        await File.WriteAllTextAsync(Path.Combine(directory, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>{framework}</TargetFramework></PropertyGroup>
              <ItemGroup>
                {references}
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><add key="dsql-test-feed" value="{Feed}" /></packageSources></configuration>
            """);
        // Outside the repository: none of its Directory.*.props apply, as for a user's project.
        await RunAsync(directory, "restore", "Consumer.csproj", "-nologo");
        using var assets = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(directory, "obj", "project.assets.json")));
        var resolved = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var target in assets.RootElement.GetProperty("targets").EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
            {
                int slash = library.Name.IndexOf('/');
                resolved[library.Name[..slash]] = library.Name[(slash + 1)..];
            }
        return resolved;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        // The consumers' restores put this run's packages into NuGet's cache; nothing else will ever use them.
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string project in Projects)
        {
            string cached = Path.Combine(cache, project.ToLowerInvariant(), Version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
        return Task.CompletedTask;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Dsql.Connector.sln"))) return directory.FullName;
        throw new InvalidOperationException($"The repository root (Dsql.Connector.sln) was not found above {AppContext.BaseDirectory}.");
    }

    private static async Task RunAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        // The test host's MSBuild variables would point the child build at the test's own build.
        foreach (string name in Environment.GetEnvironmentVariables().Keys.Cast<string>().ToList())
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase))
                start.Environment.Remove(name);
        start.Environment["MSBUILDTERMINALLOGGER"] = "off";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(CommandLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish within {CommandLimit.TotalMinutes} min");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
    }
}
