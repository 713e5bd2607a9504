using Dsql.Emulator.Backend;

namespace Dsql.Emulator.Tests;

/// <summary>
/// Starting a cluster removes the directories (clusters and emulator work directories) that a dead process left
/// under the shared root, and only those: several test processes start clusters side by side.
/// </summary>
public sealed class ClusterSweepTests
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "dsql-emulator");

    [Fact]
    public async Task A_start_removes_directories_of_dead_owners_and_keeps_an_owner_file_being_written()
    {
        Directory.CreateDirectory(Root);
        string dead = Owned("999999999"); // above any process id Linux hands out
        string beingWritten = Owned(""); // what a sweeper saw when it read an owner file between its creation and its write
        string unreadableAndOld = Owned("");
        File.SetLastWriteTimeUtc(Path.Combine(unreadableAndOld, "owner.pid"), DateTime.UtcNow.AddMinutes(-5));
        try
        {
            await using var cluster = await PostgresCluster.StartAsync();

            Assert.False(Directory.Exists(dead), "the directory of a dead owner was left behind");
            Assert.False(Directory.Exists(unreadableAndOld), "an old directory with an unreadable owner was left behind");
            Assert.True(Directory.Exists(beingWritten), "a directory whose owner file was being written was deleted");
            string own = Path.GetDirectoryName(cluster.DataDirectory)!;
            Assert.Equal(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(own, "owner.pid")));
            Assert.False(File.Exists(Path.Combine(own, "owner.pid.pending")), "the owner file was not renamed into place");
        }
        finally
        {
            foreach (string directory in new[] { dead, beingWritten, unreadableAndOld })
                if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    private static string Owned(string ownerText)
    {
        string directory = Path.Combine(Root, "sweep-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "owner.pid"), ownerText);
        return directory;
    }
}
