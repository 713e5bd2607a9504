using System.Globalization;

namespace Dsql.Emulator.Backend;

/// <summary>Finds PostgreSQL's server programs: an explicit directory, <c>PG_BIN</c>, PATH, then <c>/usr/lib/postgresql/*/bin</c>.</summary>
internal static class PostgresBinaries
{
    private static readonly string[] Required = ["initdb", "pg_ctl", "postgres"];

    public static string Locate(string? explicitDirectory)
    {
        var looked = new List<string>();
        if (!string.IsNullOrWhiteSpace(explicitDirectory))
        {
            if (HasAll(explicitDirectory)) return explicitDirectory;
            throw new PostgresNotFoundException($"The PostgreSQL bin directory '{explicitDirectory}' (option PgBin / --pg-bin) does not hold initdb, pg_ctl and postgres.");
        }
        string? fromEnvironment = Environment.GetEnvironmentVariable("PG_BIN");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            if (HasAll(fromEnvironment)) return fromEnvironment;
            throw new PostgresNotFoundException($"PG_BIN is '{fromEnvironment}', which does not hold initdb, pg_ctl and postgres.");
        }
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            looked.Add(directory);
            string candidate = Path.Combine(directory, "pg_ctl");
            if (!File.Exists(candidate)) continue;
            if (HasAll(directory)) return directory;
            // Debian links a few programs into PATH; the real directory holds all three.
            var target = new FileInfo(candidate).ResolveLinkTarget(returnFinalTarget: true);
            if (target is not null && Path.GetDirectoryName(target.FullName) is { } real && HasAll(real)) return real;
        }
        const string root = "/usr/lib/postgresql";
        looked.Add(root + "/*/bin");
        if (Directory.Exists(root))
        {
            string? best = null;
            int bestVersion = -1;
            foreach (var versionDirectory in Directory.GetDirectories(root))
            {
                string bin = Path.Combine(versionDirectory, "bin");
                if (!HasAll(bin)) continue;
                int version = int.TryParse(Path.GetFileName(versionDirectory), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;
                if (version > bestVersion) (best, bestVersion) = (bin, version);
            }
            if (best is not null) return best;
        }
        throw new PostgresNotFoundException(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found. Install them (Debian/Ubuntu: apt-get install postgresql), " +
            "or point the emulator at them with PG_BIN, the PgBin option or --pg-bin, or attach to a running server with a backend connection string. " +
            $"Looked in: PG_BIN, {string.Join(", ", looked)}.");
    }

    private static bool HasAll(string directory)
    {
        foreach (var name in Required)
            if (!File.Exists(Path.Combine(directory, name))) return false;
        return true;
    }
}

/// <summary>PostgreSQL's server programs could not be found.</summary>
/// <param name="message">What was looked for and where.</param>
public sealed class PostgresNotFoundException(string message) : Exception(message);
