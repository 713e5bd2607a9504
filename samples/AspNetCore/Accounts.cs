using Dsql.Connector;
using Npgsql;

namespace Dsql.Samples.AspNetCore;

/// <summary>A transfer of <see cref="Amount"/> from account <see cref="From"/> to account <see cref="To"/>.</summary>
public sealed record TransferRequest(long From, long To, decimal Amount);

/// <summary>An amount to add to an account.</summary>
public sealed record DepositRequest(decimal Amount);

/// <summary>An account and its balance.</summary>
public sealed record Account(long Id, decimal Balance);

internal static class Accounts
{
    private enum TransferOutcome { Done, UnknownAccount, InsufficientFunds }

    public static void MapAccounts(this IEndpointRouteBuilder app)
    {
        // One-off DML: one statement in its own transaction, retried on conflicts.
        app.MapPost("/accounts/{id:long}", async (long id, DsqlDataSource dataSource, CancellationToken cancellationToken) =>
        {
            int inserted = await dataSource.ExecuteNonQueryAsync(
                "INSERT INTO accounts (id, balance) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING",
                [new NpgsqlParameter { Value = id }], cancellationToken: cancellationToken);
            return inserted == 1
                ? Results.Created($"/accounts/{id}", new Account(id, 0m))
                : Results.Problem($"Account {id} already exists.", statusCode: StatusCodes.Status409Conflict, title: "Account exists");
        });

        app.MapPost("/accounts/{id:long}/deposits", async (long id, DepositRequest deposit, DsqlDataSource dataSource, CancellationToken cancellationToken) =>
        {
            if (deposit.Amount <= 0)
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["amount"] = ["The amount must be positive."] });
            int updated = await dataSource.ExecuteNonQueryAsync(
                "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
                [new NpgsqlParameter { Value = deposit.Amount }, new NpgsqlParameter { Value = id }], cancellationToken: cancellationToken);
            return updated == 1 ? Results.NoContent() : UnknownAccount(id);
        });

        // A read: a plain pooled connection is enough (a single statement sees a consistent snapshot).
        app.MapGet("/accounts/{id:long}", async (long id, DsqlDataSource dataSource, CancellationToken cancellationToken) =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT balance FROM accounts WHERE id = $1", connection) { Parameters = { new() { Value = id } } };
            return await command.ExecuteScalarAsync(cancellationToken) is decimal balance ? Results.Ok(new Account(id, balance)) : UnknownAccount(id);
        });

        // The transactional endpoint: read, decide, write, all inside ExecuteInTransactionAsync. When DSQL reports
        // a conflict at COMMIT, the whole delegate runs again on a fresh snapshot, so the decision is made again too.
        app.MapPost("/transfers", async (TransferRequest transfer, DsqlDataSource dataSource, CancellationToken cancellationToken) =>
        {
            if (transfer.Amount <= 0 || transfer.From == transfer.To)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]>
                {
                    [transfer.Amount <= 0 ? "amount" : "to"] = [transfer.Amount <= 0 ? "The amount must be positive." : "From and To must be different accounts."],
                });
            }

            var outcome = await dataSource.ExecuteInTransactionAsync(async (connection, token) =>
            {
                decimal? from = await BalanceAsync(connection, transfer.From, token);
                decimal? to = await BalanceAsync(connection, transfer.To, token);
                if (from is null || to is null) return TransferOutcome.UnknownAccount;
                if (from < transfer.Amount) return TransferOutcome.InsufficientFunds; // nothing written: the commit is a no-op
                await SetBalanceAsync(connection, transfer.From, from.Value - transfer.Amount, token);
                await SetBalanceAsync(connection, transfer.To, to.Value + transfer.Amount, token);
                return TransferOutcome.Done;
            }, cancellationToken: cancellationToken);

            return outcome switch
            {
                TransferOutcome.Done => Results.Ok(transfer),
                TransferOutcome.UnknownAccount => Results.Problem($"Account {transfer.From} or {transfer.To} does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Unknown account"),
                _ => Results.Problem($"Account {transfer.From} cannot pay {transfer.Amount}.", statusCode: StatusCodes.Status409Conflict, title: "Insufficient funds"),
            };
        });
    }

    private static async Task<decimal?> BalanceAsync(NpgsqlConnection connection, long id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT balance FROM accounts WHERE id = $1", connection) { Parameters = { new() { Value = id } } };
        return await command.ExecuteScalarAsync(cancellationToken) as decimal?;
    }

    private static async Task SetBalanceAsync(NpgsqlConnection connection, long id, decimal balance, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("UPDATE accounts SET balance = $1 WHERE id = $2", connection)
        {
            Parameters = { new() { Value = balance }, new() { Value = id } },
        };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static IResult UnknownAccount(long id)
        => Results.Problem($"Account {id} does not exist.", statusCode: StatusCodes.Status404NotFound, title: "Unknown account");
}
