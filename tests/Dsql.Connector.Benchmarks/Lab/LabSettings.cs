using System.Globalization;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>The lab's command line: which scenarios, quick or full, where the results go.</summary>
internal sealed class LabSettings
{
    /// <summary>Every scenario, in the order they run.</summary>
    public static readonly IReadOnlyList<string> AllScenarios = ["token", "rent", "connect", "transaction", "emulator", "storm", "contention", "efcore", "bulk", "cdc-apply", "regions", "soak"];

    public bool Quick { get; private init; }

    public IReadOnlyList<string> Scenarios { get; private init; } = AllScenarios;

    public string OutputDirectory { get; private init; } = "docs/performance";

    /// <summary>Soak duration; by default 10 minutes, 60 s in quick mode.</summary>
    public TimeSpan SoakDuration { get; private init; }

    /// <summary>The command that reproduces this run, for the report.</summary>
    public string Command { get; private init; } = "./build.sh bench";

    public string Mode => Quick ? "quick" : "full";

    public const string Usage = """
        Usage: ./build.sh bench [--quick] [--only a,b,...] [--soak SECONDS] [--out DIR]
               ./build.sh bench bdn [BenchmarkDotNet arguments]   (e.g. --filter '*Token*')

          --quick        short BenchmarkDotNet jobs and a 60 s soak: the whole lab in under 10 minutes
          --only LIST    run only these scenarios: token, rent, connect, transaction, emulator, storm, contention, efcore, bulk, cdc-apply, regions, soak
          --soak SECONDS soak duration (default 600, or 60 with --quick)
          --out DIR      where <mode>.md and <mode>.json are written (default docs/performance)
        """;

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> naming the argument at fault.</summary>
    public static LabSettings Parse(IReadOnlyList<string> args)
    {
        bool quick = false;
        IReadOnlyList<string> scenarios = AllScenarios;
        string output = "docs/performance";
        int? soakSeconds = null;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--only":
                    var names = Value(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    var unknown = names.Where(n => !AllScenarios.Contains(n)).ToArray();
                    if (unknown.Length > 0 || names.Length == 0)
                    {
                        throw new ArgumentException($"--only '{string.Join(",", names)}': unknown scenario {(unknown.Length > 0 ? "'" + string.Join("', '", unknown) + "'" : "list (empty)")}; choose from {string.Join(", ", AllScenarios)}.");
                    }
                    scenarios = AllScenarios.Where(names.Contains).ToArray();
                    break;
                case "--soak":
                    string text = Value(args, ref i);
                    if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) || seconds < 5)
                    {
                        throw new ArgumentException($"--soak '{text}' is not a whole number of seconds of at least 5.");
                    }
                    soakSeconds = seconds;
                    break;
                case "--out":
                    output = Value(args, ref i);
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'.");
            }
        }
        return new LabSettings
        {
            Quick = quick,
            Scenarios = scenarios,
            OutputDirectory = output,
            SoakDuration = TimeSpan.FromSeconds(soakSeconds ?? (quick ? 60 : 600)),
            Command = args.Count == 0 ? "./build.sh bench" : "./build.sh bench " + string.Join(" ", args),
        };
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"{args[i]} needs a value.");
        return args[++i];
    }

    /// <summary>A progress line on standard error (the report goes to files and standard output).</summary>
    public void Log(string message) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
}
