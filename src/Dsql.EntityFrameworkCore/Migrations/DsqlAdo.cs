using System.Data;
using System.Data.Common;
using Npgsql;

namespace Dsql.EntityFrameworkCore.Migrations;

/// <summary>Small ADO.NET helpers for the migrations bookkeeping (lease, step journal), with one sync/async path.</summary>
internal static class DsqlAdo
{
    /// <summary>Runs <paramref name="work"/> in one REPEATABLE READ transaction (DSQL's level), retried on OCC conflicts.</summary>
    public static async Task<T> InTransactionAsync<T>(DbConnection connection, bool async, Func<DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            var transaction = async
                ? await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false)
                : connection.BeginTransaction(IsolationLevel.RepeatableRead);
            try
            {
                T result = await work(transaction).ConfigureAwait(false);
                if (async)
                {
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    transaction.Commit();
                }

                return result;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.SerializationFailure && attempt < 8)
            {
                await PauseAsync(TimeSpan.FromMilliseconds(20 * (1 << attempt) + Random.Shared.Next(20)), async, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (async)
                {
                    await transaction.DisposeAsync().ConfigureAwait(false);
                }
                else
                {
                    transaction.Dispose();
                }
            }
        }
    }

    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, bool async, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return async ? await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteNonQuery();
    }

    public static async Task<List<object?[]>> QueryAsync(DbConnection connection, DbTransaction? transaction, string sql, bool async, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await using var reader = async ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false) : command.ExecuteReader();
        var rows = new List<object?[]>();
        while (async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Runs a DDL statement on its own (its own transaction); a concurrent creator's conflict or duplicate is ignored.</summary>
    public static async Task CreateIfMissingAsync(DbConnection connection, string sql, bool async, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(connection, null, sql, async, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DuplicateTable
                                              or PostgresErrorCodes.DuplicateObject or PostgresErrorCodes.UniqueViolation)
        {
            // Another process created it at the same moment.
        }
    }

    public static Task PauseAsync(TimeSpan delay, bool async, CancellationToken cancellationToken)
    {
        if (async)
        {
            return Task.Delay(delay, cancellationToken);
        }

        Thread.Sleep(delay);
        return Task.CompletedTask;
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
