using Dsql.Emulator.Protocol;
using Dsql.Emulator.Sql;

namespace Dsql.Emulator.Rules;

/// <summary>
/// DSQL's transaction rules as the client sends its statements: one DDL statement per transaction, and DDL never
/// mixed with DML. Outside BEGIN ... COMMIT each request group (a Query, or messages up to a Sync) is a transaction
/// of its own.
/// </summary>
internal sealed class TransactionRules
{
    private int _ddlCount;
    private int _dmlCount;

    /// <summary>True between BEGIN and COMMIT/ROLLBACK as seen in the client's statements.</summary>
    public bool InExplicitTransaction { get; private set; }

    /// <summary>Forgets everything: the backend is idle with nothing in flight.</summary>
    public void Reset() => (InExplicitTransaction, _ddlCount, _dmlCount) = (false, 0, 0);

    /// <summary>A request group ended: outside an explicit transaction it was its own implicit transaction.</summary>
    public void EndRequestGroup()
    {
        if (!InExplicitTransaction) (_ddlCount, _dmlCount) = (0, 0);
    }

    /// <summary>Records a statement of the given kind; returns DSQL's refusal when the transaction may not run it.</summary>
    public DsqlRejection? Apply(StatementKind kind)
    {
        switch (kind)
        {
            case StatementKind.Begin:
                (InExplicitTransaction, _ddlCount, _dmlCount) = (true, 0, 0);
                return null;
            case StatementKind.Commit:
            case StatementKind.Rollback:
                Reset();
                return null;
            case StatementKind.Ddl:
                if (_ddlCount > 0) return new DsqlRejection(PgConstants.FeatureNotSupported, DsqlMessages.MultipleDdl);
                if (_dmlCount > 0) return new DsqlRejection(PgConstants.FeatureNotSupported, DsqlMessages.DdlAndDml);
                _ddlCount++;
                return null;
            case StatementKind.Dml:
                if (_ddlCount > 0) return new DsqlRejection(PgConstants.FeatureNotSupported, DsqlMessages.DdlAndDml);
                _dmlCount++;
                return null;
            default:
                return null;
        }
    }
}
