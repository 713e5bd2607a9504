namespace Dsql.Emulator.Tests.Infrastructure;

/// <summary>
/// One test process at a time builds the repository's own projects (<c>dotnet run</c>, <c>dotnet pack</c> of
/// <c>src/*</c>). <c>./build.sh test</c> runs test projects side by side, and two builds of one project write the
/// same <c>obj/</c> and <c>bin/</c> files: the emulator's documented commands and the connector's package tests take
/// this lock around their builds. The lock is an exclusive lock on <c>artifacts/repository-build.lock</c>, which the
/// operating system releases when the holder ends, even if it is killed.
/// </summary>
internal static class RepositoryBuildLock
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Waits up to <paramref name="limit"/> for the lock; disposing the result releases it.</summary>
    public static async Task<IDisposable> AcquireAsync(string repositoryRoot, TimeSpan limit)
    {
        string directory = Path.Combine(repositoryRoot, "artifacts");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "repository-build.lock");
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second process cannot open it.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(RetryDelay);
            }
        }
    }
}
