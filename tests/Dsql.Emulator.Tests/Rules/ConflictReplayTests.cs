using Dsql.Emulator.Rules;
using Xunit;

namespace Dsql.Emulator.Tests.Rules;

/// <summary>How the emulator answers for a statement that lost a conflict, as pure text planning.</summary>
public class ConflictReplayTests
{
    [Theory]
    [InlineData("UPDATE t SET n = n + 1 WHERE id = $1", "SELECT count(*) FROM t WHERE id = $1")]
    [InlineData("update ONLY s.t AS x set n = (SELECT max(n) FROM u WHERE u.id = x.id) where x.id in (1, 2)", "SELECT count(*) FROM ONLY s.t AS x WHERE x.id in (1, 2)")]
    [InlineData("UPDATE t SET note = 'a WHERE b'", "SELECT count(*) FROM t")]
    [InlineData("UPDATE \"Where\" SET \"from\" = 1 WHERE id = 2", "SELECT count(*) FROM \"Where\" WHERE id = 2")]
    public void Update_is_answered_by_counting_its_where_clause(string statement, string countSql)
    {
        var plan = ConflictReplay.TryPlan(statement);
        Assert.NotNull(plan);
        Assert.Equal(ReplayKind.Update, plan.Kind);
        Assert.Equal(countSql, plan.CountSql);
        Assert.Equal("UPDATE 3", plan.CommandTag(3));
    }

    [Theory]
    [InlineData("DELETE FROM t WHERE id = $1", "SELECT count(*) FROM t WHERE id = $1")]
    [InlineData("delete from t", "SELECT count(*) FROM t")]
    [InlineData("DELETE FROM t AS x WHERE x.id IN (SELECT id FROM u WHERE flag)", "SELECT count(*) FROM t AS x WHERE x.id IN (SELECT id FROM u WHERE flag)")]
    public void Delete_is_answered_by_counting_its_where_clause(string statement, string countSql)
    {
        var plan = ConflictReplay.TryPlan(statement);
        Assert.NotNull(plan);
        Assert.Equal(ReplayKind.Delete, plan.Kind);
        Assert.Equal(countSql, plan.CountSql);
        Assert.Equal("DELETE 0", plan.CommandTag(0));
    }

    [Theory]
    [InlineData("INSERT INTO t VALUES (1, 'a')", 1)]
    [InlineData("INSERT INTO t (id, note) VALUES ($1, $2), ($3, '(x)'), (3, f(4))", 3)]
    [InlineData("insert into s.t overriding system value values (1)", 1)]
    public void Insert_values_is_answered_by_its_row_count(string statement, long rows)
    {
        var plan = ConflictReplay.TryPlan(statement);
        Assert.NotNull(plan);
        Assert.Equal(ReplayKind.Insert, plan.Kind);
        Assert.Null(plan.CountSql);
        Assert.Equal("INSERT 0 " + rows, plan.CommandTag(plan.InsertedRows));
    }

    [Theory]
    [InlineData("UPDATE t SET n = 1 WHERE id = 1 RETURNING n")]
    [InlineData("UPDATE t SET n = u.n FROM u WHERE u.id = t.id")]
    [InlineData("UPDATE t SET n = 1 WHERE CURRENT OF c")]
    [InlineData("DELETE FROM t USING u WHERE u.id = t.id")]
    [InlineData("DELETE FROM t WHERE id = 1 RETURNING *")]
    [InlineData("INSERT INTO t SELECT * FROM u")]
    [InlineData("INSERT INTO t DEFAULT VALUES")]
    [InlineData("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING")]
    [InlineData("INSERT INTO t VALUES (1) RETURNING id")]
    [InlineData("WITH x AS (SELECT 1) UPDATE t SET n = 1")]
    [InlineData("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE")]
    [InlineData("COPY t FROM STDIN")]
    public void Forms_whose_answer_cannot_be_reproduced_get_no_plan(string statement) =>
        Assert.Null(ConflictReplay.TryPlan(statement));
}
