using Dsql.Emulator.Rules;
using Xunit;

namespace Dsql.Emulator.Tests.Rules;

public class AgeSupervisionTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly AgeSupervision Limits = new(DsqlQuotas.MaxConnectionAge, DsqlQuotas.MaxTransactionAge);

    private static SessionSnapshot At(TimeSpan elapsed, byte status, bool busy = false, bool injected = false) =>
        new(Start + elapsed, Start, status, Start.UtcTicks, busy, injected, Start.UtcTicks);

    [Fact]
    public void Young_session_needs_nothing() =>
        Assert.Equal(AgeAction.None, Limits.Decide(At(TimeSpan.FromSeconds(299), (byte)'T', busy: true)));

    [Fact]
    public void Old_connection_is_closed() =>
        Assert.Equal(AgeAction.CloseConnection, Limits.Decide(At(TimeSpan.FromMinutes(61), (byte)'I')));

    [Fact]
    public void Running_statement_of_an_old_transaction_is_cancelled() =>
        Assert.Equal(AgeAction.CancelStatement, Limits.Decide(At(TimeSpan.FromSeconds(301), (byte)'T', busy: true)));

    [Fact]
    public void Idle_old_transaction_is_aborted() =>
        Assert.Equal(AgeAction.AbortIdleTransaction, Limits.Decide(At(TimeSpan.FromSeconds(301), (byte)'T')));

    [Fact]
    public void Long_autocommit_statement_is_cancelled_but_the_emulators_own_is_not()
    {
        Assert.Equal(AgeAction.CancelStatement, Limits.Decide(At(TimeSpan.FromSeconds(301), (byte)'I', busy: true)));
        Assert.Equal(AgeAction.None, Limits.Decide(At(TimeSpan.FromSeconds(301), (byte)'I', busy: true, injected: true)));
    }

    [Fact]
    public void Cancellation_is_reported_once_as_the_age_error_and_commit_reads_as_54000()
    {
        var age = new AgeSupervision(DsqlQuotas.MaxConnectionAge, DsqlQuotas.MaxTransactionAge);
        Assert.False(age.TakeAgeError("57014"));
        Assert.True(age.TryMarkCancelSent());
        Assert.False(age.TryMarkCancelSent());
        Assert.Equal(AgeAction.None, age.Decide(At(TimeSpan.FromSeconds(400), (byte)'T', busy: true)));
        Assert.True(age.TakeAgeError("57014"));
        age.OnCommitSent();
        Assert.True(age.TakeCommitPending());
        Assert.False(age.TakeCommitPending());
        age.OnIdle();
        Assert.False(age.TakeAgeError("57014"));
    }

    [Fact]
    public void Aborted_idle_transaction_reports_the_next_failure_as_the_age_error()
    {
        var age = new AgeSupervision(DsqlQuotas.MaxConnectionAge, DsqlQuotas.MaxTransactionAge);
        Assert.True(age.TryMarkAborted());
        Assert.True(age.TakeAgeError("25P02"));
        Assert.False(age.TakeAgeError("25P02"));
    }

    [Fact]
    public void Options_default_to_DSQLs_quotas()
    {
        var options = new DsqlEmulatorOptions();
        Assert.Equal(10_000, options.MaxConnections);
        Assert.Equal(DsqlQuotas.MaxConnections, options.MaxConnections);
        Assert.Equal(100, options.ConnectionRatePerSecond);
        Assert.Equal(1_000, options.ConnectionBurst);
        Assert.Equal(TimeSpan.FromMinutes(60), options.MaxConnectionAge);
        Assert.Equal(TimeSpan.FromSeconds(300), options.MaxTransactionAge);
        Assert.Equal(3_000, options.MaxRowsPerTransaction);
        Assert.Equal(10L * 1024 * 1024, options.MaxBytesPerTransaction);
        Assert.Equal("transaction age limit of 300s exceeded", DsqlMessages.TransactionAge(DsqlQuotas.MaxTransactionAge));
    }
}
