using Dsql.Connector;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Update;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal;
using Npgsql.EntityFrameworkCore.PostgreSQL.Update.Internal;

namespace Dsql.EntityFrameworkCore.Storage;

/// <summary>
/// Npgsql's command batch, with one difference: a batch that EF runs without a transaction (a SaveChanges of a single
/// statement runs in autocommit) and whose connection fails while it runs may have been committed by the server, so
/// the failure carries a <see cref="DsqlAmbiguousCommitException"/>: the execution strategy does not run it again
/// blindly.
/// </summary>
internal sealed class DsqlModificationCommandBatch(ModificationCommandBatchFactoryDependencies dependencies, int maxBatchSize)
    : NpgsqlModificationCommandBatch(dependencies, maxBatchSize)
{
    public override void Execute(IRelationalConnection connection)
    {
        if (connection.CurrentTransaction is not null)
        {
            base.Execute(connection);
            return;
        }
        try
        {
            base.Execute(connection);
        }
        catch (DbUpdateException ex) when (IsLostInAutocommit(connection, ex))
        {
            throw Ambiguous(ex);
        }
    }

    public override Task ExecuteAsync(IRelationalConnection connection, CancellationToken cancellationToken = default)
        => connection.CurrentTransaction is not null ? base.ExecuteAsync(connection, cancellationToken) : ExecuteInAutocommitAsync(connection, cancellationToken);

    private async Task ExecuteInAutocommitAsync(IRelationalConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await base.ExecuteAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (!cancellationToken.IsCancellationRequested && IsLostInAutocommit(connection, ex))
        {
            throw Ambiguous(ex);
        }
    }

    private static bool IsLostInAutocommit(IRelationalConnection connection, DbUpdateException ex)
        => connection is DsqlRelationalConnection { IsLost: true } && ex.InnerException is not null and not DsqlAmbiguousCommitException;

    private static DbUpdateException Ambiguous(DbUpdateException ex)
        => new(ex.Message, new DsqlAmbiguousCommitException(ex.InnerException!), ex.Entries);
}

/// <summary>Creates <see cref="DsqlModificationCommandBatch"/>es, with Npgsql's batch size.</summary>
internal sealed class DsqlModificationCommandBatchFactory : IModificationCommandBatchFactory
{
    private const int DefaultMaxBatchSize = 1000; // Npgsql's default

    private readonly ModificationCommandBatchFactoryDependencies _dependencies;
    private readonly int _maxBatchSize;

    public DsqlModificationCommandBatchFactory(ModificationCommandBatchFactoryDependencies dependencies, IDbContextOptions options)
    {
        _dependencies = dependencies;
        _maxBatchSize = options.FindExtension<NpgsqlOptionsExtension>()?.MaxBatchSize ?? DefaultMaxBatchSize;
        if (_maxBatchSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(RelationalOptionsExtension.MaxBatchSize), _maxBatchSize, "MaxBatchSize must be at least 1.");
    }

    public ModificationCommandBatch Create() => new DsqlModificationCommandBatch(_dependencies, _maxBatchSize);
}
