using System.Globalization;
using Npgsql;

namespace Dsql.Connector;

/// <summary>
/// A transaction ran past its time limit (<c>DsqlTransactionOptions.Timeout</c>; DSQL itself ends transactions
/// after 300 seconds). It was rolled back and nothing was committed.
/// </summary>
public sealed class DsqlTransactionTimeoutException : NpgsqlException
{
    internal DsqlTransactionTimeoutException(TimeSpan elapsed, TimeSpan limit, Exception? inner)
        : base(BuildMessage(elapsed, limit), inner)
    {
        Elapsed = elapsed;
        Limit = limit;
    }

    /// <summary>How long the transaction had run when it was stopped.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The time limit the transaction ran past.</summary>
    public TimeSpan Limit { get; }

    private static string BuildMessage(TimeSpan elapsed, TimeSpan limit)
        => $"The transaction ran {Seconds(elapsed)} s, past its limit of {Seconds(limit)} s " +
           $"(DsqlTransactionOptions.Timeout; DSQL ends transactions after {DsqlQuotas.MaxTransactionAge.TotalSeconds:0} s). It was rolled back and nothing was " +
           "committed. Make the transaction shorter, split it, or pass the CancellationToken your delegate receives " +
           "to every command so it can be stopped.";

    private static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
}
