using System.Globalization;
using Dsql.Sync.Bulk;
using Spectre.Console;

namespace Dsql.Sync.Tool;

/// <summary>Where <c>load</c> shows its progress: plain lines (redirected output, tests) or a live table on a terminal.</summary>
internal abstract class LoadDisplay
{
    /// <summary>A live Spectre.Console table when <paramref name="output"/> is the terminal, plain lines otherwise.</summary>
    public static LoadDisplay For(TextWriter output)
        => ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive
            ? new LiveDisplay(output)
            : new PlainDisplay(output);

    /// <summary>Runs <paramref name="load"/> (the table loads) while the display shows their progress.</summary>
    public abstract Task RunAsync(IReadOnlyList<string> tables, Func<Task> load);

    public abstract void Report(string table, BulkProgress progress);

    public abstract void Done(string table, BulkProgress result);

    /// <summary>A line of its own (DDL steps, summary).</summary>
    public abstract void Line(string text);

    protected static string Rows(BulkProgress p)
        => string.Create(CultureInfo.InvariantCulture, $"{p.Rows:N0} rows written, {p.RowsSkipped:N0} already loaded");

    protected static string Rate(BulkProgress p) => string.Create(CultureInfo.InvariantCulture, $"{p.RowsPerSecond:N0} rows/s");

    private sealed class PlainDisplay(TextWriter output) : LoadDisplay
    {
        private readonly Lock _gate = new();

        public override Task RunAsync(IReadOnlyList<string> tables, Func<Task> load) => load();

        public override void Report(string table, BulkProgress progress) => Line($"{table}: {Rows(progress)}, {Rate(progress)}");

        public override void Done(string table, BulkProgress result) => Line($"{table}: done, {Rows(result)}, {Rate(result)}");

        public override void Line(string text)
        {
            lock (_gate) output.WriteLine(text);
        }
    }

    private sealed class LiveDisplay(TextWriter output) : LoadDisplay
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, int> _rows = new(StringComparer.Ordinal);
        private readonly Table _table = new Table().AddColumns("table", "rows", "rate", "state");
        private LiveDisplayContext? _context;

        public override async Task RunAsync(IReadOnlyList<string> tables, Func<Task> load)
        {
            foreach (var name in tables)
            {
                _rows[name] = _rows.Count;
                _table.AddRow(Markup.Escape(name), "0", "", "waiting");
            }
            await AnsiConsole.Live(_table).StartAsync(async context =>
            {
                lock (_gate) _context = context;
                await load().ConfigureAwait(false);
            }).ConfigureAwait(false);
            lock (_gate) _context = null;
        }

        public override void Report(string table, BulkProgress progress) => Update(table, progress, "loading");

        public override void Done(string table, BulkProgress result) => Update(table, result, "done");

        private void Update(string table, BulkProgress progress, string state)
        {
            lock (_gate)
            {
                int row = _rows[table];
                _table.UpdateCell(row, 1, Markup.Escape(Rows(progress)));
                _table.UpdateCell(row, 2, Markup.Escape(Rate(progress)));
                _table.UpdateCell(row, 3, state);
                _context?.Refresh();
            }
        }

        public override void Line(string text)
        {
            lock (_gate)
            {
                if (_context is null) output.WriteLine(text);
            }
        }
    }
}
