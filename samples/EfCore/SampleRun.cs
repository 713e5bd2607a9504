using System.Diagnostics;
using System.Globalization;
using Dsql.Connector;
using EfCore.Shop;
using Microsoft.EntityFrameworkCore;

namespace EfCore;

/// <summary>
/// What the sample does once it has a data source: applies the migrations, writes a customer and its orders inside
/// the execution strategy, reads them back. Program.cs chooses the cluster (yours or the local emulator); the tests
/// in tests/Dsql.Samples.Tests run this against an emulator of their own.
/// </summary>
public static class SampleRun
{
    public static async Task RunAsync(DsqlDataSource dataSource, TextWriter output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(output);
        // One options object for the process; one context per unit of work, as EF Core intends.
        var options = new DbContextOptionsBuilder<ShopContext>().UseDsql(dataSource).Options;

        Step(output, "1. Migrations");
        await using (var db = new ShopContext(options))
        {
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            if (pending.Count == 0)
            {
                Say(output, "no migration pending: the database is up to date.");
            }
            else
            {
                Say(output, $"pending: {string.Join(", ", pending)}");
                var clock = Stopwatch.StartNew();
                await db.Database.MigrateAsync(cancellationToken);
                Say(output, $"applied {pending.Count} migration(s) in {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s: " +
                    "tables shop_customers and shop_orders, a unique index on the e-mail address, an index on the orders' customer.");
            }
            var applied = await db.Database.GetAppliedMigrationsAsync(cancellationToken);
            Say(output, $"applied so far: {string.Join(", ", applied)}");
        }

        Step(output, "2. Writing inside the execution strategy");
        string email = $"ada.{Guid.NewGuid().ToString("N")[..8]}@example.com";
        int attempts = 0;
        Guid customerId;
        await using (var db = new ShopContext(options))
        {
            // The strategy runs the whole delegate again when DSQL reports a conflict at COMMIT (SQLSTATE 40001):
            // everything the unit of work reads and writes belongs inside it, and the change tracker starts empty.
            var strategy = db.Database.CreateExecutionStrategy();
            customerId = await strategy.ExecuteAsync(async token =>
            {
                attempts++;
                db.ChangeTracker.Clear();
                await using var transaction = await db.Database.BeginTransactionAsync(token);
                var customer = new Customer { Name = "Ada Lovelace", Email = email };
                db.Customers.Add(customer);
                var now = DateTime.UtcNow;
                customer.Orders.Add(new Order { Item = "notebook", Quantity = 2, Amount = 12.50m, PlacedAt = now });
                customer.Orders.Add(new Order { Item = "fountain pen", Quantity = 1, Amount = 34.00m, PlacedAt = now });
                customer.Orders.Add(new Order { Item = "ink", Quantity = 3, Amount = 9.75m, PlacedAt = now });
                await db.SaveChangesAsync(token);
                await transaction.CommitAsync(token);
                return customer.Id;
            }, cancellationToken);
        }
        Say(output, $"committed after {attempts} attempt(s): customer {customerId} <{email}> with 3 orders, in one transaction.");

        Step(output, "3. Reading back");
        await using (var db = new ShopContext(options))
        {
            var customer = await db.Customers.AsNoTracking()
                .Include(c => c.Orders.OrderBy(o => o.Id))
                .SingleAsync(c => c.Email == email, cancellationToken); // served by the unique index
            Say(output, $"{customer.Name} <{customer.Email}> has {customer.Orders.Count} orders, total {Money(customer.Orders.Sum(o => o.Amount))}:");
            foreach (var order in customer.Orders)
                Say(output, $"  order {order.Id}: {order.Quantity} x {order.Item}, {Money(order.Amount)}");
            int customers = await db.Customers.CountAsync(cancellationToken);
            int orders = await db.Orders.CountAsync(cancellationToken);
            Say(output, $"the database holds {customers} customer(s) and {orders} order(s) in all.");
        }
    }

    private static string Money(decimal amount) => amount.ToString("0.00", CultureInfo.InvariantCulture);

    private static void Step(TextWriter output, string title)
    {
        output.WriteLine();
        output.WriteLine($"== {title}");
    }

    private static void Say(TextWriter output, string line) => output.WriteLine("   " + line);
}
