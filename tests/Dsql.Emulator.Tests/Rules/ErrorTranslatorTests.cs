using Dsql.Emulator.Protocol;
using Dsql.Emulator.Rules;
using Xunit;

namespace Dsql.Emulator.Tests.Rules;

public class ErrorTranslatorTests
{
    [Theory]
    [InlineData("40001", "could not serialize access due to concurrent update")]
    [InlineData("40P01", "deadlock detected")]
    [InlineData("55P03", "canceling statement due to lock timeout")]
    public void PostgreSQL_conflicts_become_OC000(string sqlState, string message)
    {
        var fields = PgErrorFields.Create("ERROR", sqlState, message, detail: "Process 12 waits for ShareLock", hint: "See server log");
        Assert.True(ErrorTranslator.IsConflict(fields));
        Assert.True(ErrorTranslator.Translate(fields, null));
        Assert.Equal("40001", fields.SqlState);
        Assert.Equal(DsqlMessages.ConflictOc000, fields.Message);
        Assert.Null(fields['D']);
        Assert.Null(fields['H']);
    }

    [Fact]
    public void Lock_not_available_without_a_timeout_is_not_a_conflict()
    {
        var fields = PgErrorFields.Create("ERROR", "55P03", "could not obtain lock on row in relation \"t\"");
        Assert.False(ErrorTranslator.IsConflict(fields));
        Assert.False(ErrorTranslator.Translate(fields, null));
        Assert.Equal("55P03", fields.SqlState);
    }

    [Fact]
    public void Age_consequence_becomes_54000()
    {
        var fields = PgErrorFields.Create("ERROR", "57014", "canceling statement due to user request");
        Assert.True(ErrorTranslator.Translate(fields, TimeSpan.FromSeconds(300)));
        Assert.Equal("54000", fields.SqlState);
        Assert.Equal("transaction age limit of 300s exceeded", fields.Message);
    }

    [Fact]
    public void Context_of_internal_helpers_is_hidden()
    {
        var fields = PgErrorFields.Create("ERROR", "0A000", "unsupported statement: Truncate");
        fields['W'] = "PL/pgSQL function dsql_emulator_raise(text,text) line 1 at RAISE";
        fields['F'] = "pl_exec.c";
        Assert.True(ErrorTranslator.Translate(fields, null));
        Assert.Null(fields['W']);
        Assert.Null(fields['F']);
        Assert.Equal("0A000", fields.SqlState);
    }

    [Fact]
    public void Ordinary_error_is_left_alone()
    {
        var fields = PgErrorFields.Create("ERROR", "23505", "duplicate key value violates unique constraint \"t_pkey\"");
        Assert.False(ErrorTranslator.Translate(fields, null));
    }
}
