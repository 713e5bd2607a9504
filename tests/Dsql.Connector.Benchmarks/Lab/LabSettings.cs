using System.Globalization;

namespace Dsql.Connector.Benchmarks.Lab;

/// <summary>The lab's command line: which scenarios, quick or full, where the results go.</summary>
internal sealed class LabSettings
{
    /// <summary>Every scenario, in the order they run.</summary>
    public static readonly IReadOnlyList<string> AllScenarios = ["token", "rent", "connect", "transaction", "emulator", "storm", "contention", "efcore", "bulk", "cdc-apply", "cdc", "regions", "soak"];

    public bool Quick { get; private init; }

    public IReadOnlyList<string> Scenarios { get; private init; } = AllScenarios;

    public string OutputDirectory { get; private init; } = "docs/performance";

    /// <summary>Soak duration; by default 10 minutes, 60 s in quick mode.</summary>
    public TimeSpan SoakDuration { get; private init; }

    /// <summary>The cdc scenario's apply lanes: <c>sink.parallelism</c> in the pipeline file it runs (dsql-sync run's lanes). Default 1, the tool's own default and the fastest measured on the two-core reference machine.</summary>
    public int CdcLanes { get; private init; } = 1;

    /// <summary>The cdc scenario's steady-phase rate in changes/s; null: the highest step rate the pipeline kept up with.</summary>
    public int? CdcRate { get; private init; }

    /// <summary>The cdc scenario's step series in changes/s; null: 2,000, 5,000, 10,000, 15,000.</summary>
    public IReadOnlyList<int>? CdcSteps { get; private init; }

    /// <summary>The cdc scenario's measured steady phase; null: 600 s, or 40 s with --quick.</summary>
    public TimeSpan? CdcSteady { get; private init; }

    /// <summary>The command that reproduces this run, for the report.</summary>
    public string Command { get; private init; } = "./build.sh bench";

    public string Mode => Quick ? "quick" : "full";

    public const string Usage = """
        Usage: ./build.sh bench [--quick] [--only a,b,...] [--soak SECONDS] [--out DIR]
                                [--cdc-lanes N] [--cdc-rate N] [--cdc-steps A,B,...] [--cdc-steady SECONDS]
               ./build.sh bench bdn [BenchmarkDotNet arguments]   (e.g. --filter '*Token*')

          --quick        short BenchmarkDotNet jobs and a 60 s soak: the whole lab in under 10 minutes
          --only LIST    run only these scenarios: token, rent, connect, transaction, emulator, storm, contention, efcore, bulk, cdc-apply, cdc, regions, soak
          --soak SECONDS soak duration (default 600, or 60 with --quick)
          --out DIR      where <mode>.md and <mode>.json are written (default docs/performance)
          --cdc-lanes N  cdc: apply lanes, sink.parallelism of the dsql-sync run pipeline file (default 1)
          --cdc-rate N   cdc: the steady phase's changes/s (default: the highest step rate kept up with)
          --cdc-steps L  cdc: the step series in changes/s (default 2000,5000,10000,15000)
          --cdc-steady S cdc: seconds of measured steady phase (default 600, or 40 with --quick)
        """;

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> naming the argument at fault.</summary>
    public static LabSettings Parse(IReadOnlyList<string> args)
    {
        bool quick = false;
        IReadOnlyList<string> scenarios = AllScenarios;
        string output = "docs/performance";
        int? soakSeconds = null;
        int lanes = 1;
        int? cdcRate = null;
        int[]? cdcSteps = null;
        int? cdcSteady = null;
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
                case "--cdc-lanes":
                    lanes = Whole(args, ref i, 1, 1024);
                    break;
                case "--cdc-rate":
                    cdcRate = Whole(args, ref i, 10, 10_000_000);
                    break;
                case "--cdc-steps":
                    string list = Value(args, ref i);
                    cdcSteps = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(step => int.TryParse(step, NumberStyles.None, CultureInfo.InvariantCulture, out int rate) && rate >= 10
                            ? rate
                            : throw new ArgumentException($"--cdc-steps '{list}': '{step}' is not a whole number of changes/s of at least 10."))
                        .ToArray();
                    if (cdcSteps.Length == 0) throw new ArgumentException("--cdc-steps needs at least one rate.");
                    break;
                case "--cdc-steady":
                    cdcSteady = Whole(args, ref i, 5, 86_400);
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
            CdcLanes = lanes,
            CdcRate = cdcRate,
            CdcSteps = cdcSteps,
            CdcSteady = cdcSteady is { } steady ? TimeSpan.FromSeconds(steady) : null,
            Command = args.Count == 0 ? "./build.sh bench" : "./build.sh bench " + string.Join(" ", args),
        };
    }

    private static int Whole(IReadOnlyList<string> args, ref int i, int minimum, int maximum)
    {
        string name = args[i];
        string text = Value(args, ref i);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < minimum || value > maximum)
            throw new ArgumentException($"{name} '{text}' is not a whole number from {minimum.ToString(CultureInfo.InvariantCulture)} to {maximum.ToString(CultureInfo.InvariantCulture)}.");
        return value;
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"{args[i]} needs a value.");
        return args[++i];
    }

    /// <summary>A progress line on standard error (the report goes to files and standard output).</summary>
    public void Log(string message) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");
}
