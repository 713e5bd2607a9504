using Dsql.Connector;

namespace Dsql.Samples.AspNetCore;

/// <summary>
/// Creates the accounts table when the application starts, before it takes requests. DDL runs alone in its own
/// transaction on DSQL, which is what <see cref="DsqlDataSource.ExecuteNonQueryAsync"/> does.
/// </summary>
internal sealed class AccountsSchema(DsqlDataSource dataSource, ILogger<AccountsSchema> logger) : IHostedService
{
    public const string CreateTable = "CREATE TABLE IF NOT EXISTS accounts (id bigint PRIMARY KEY, balance numeric NOT NULL)";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await dataSource.ExecuteNonQueryAsync(CreateTable, cancellationToken: cancellationToken);
        logger.LogInformation("Table accounts is ready on {Endpoint}.", dataSource.Endpoint);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
