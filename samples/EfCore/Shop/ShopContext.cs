using Microsoft.EntityFrameworkCore;

namespace EfCore.Shop;

/// <summary>
/// Customers and their orders. Nothing in the model is DSQL-specific: <c>UseDsql()</c> (in Program.cs) makes the
/// transactions, retries and migrations fit DSQL.
/// </summary>
public sealed class ShopContext(DbContextOptions<ShopContext> options) : DbContext(options)
{
    public DbSet<Customer> Customers => Set<Customer>();

    public DbSet<Order> Orders => Set<Order>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Customer>(customer =>
        {
            customer.ToTable("shop_customers");
            customer.Property(c => c.Name).HasMaxLength(100);
            customer.Property(c => c.Email).HasMaxLength(200);
            customer.HasIndex(c => c.Email).IsUnique();
            customer.HasMany(c => c.Orders).WithOne(o => o.Customer).HasForeignKey(o => o.CustomerId);
        });
        modelBuilder.Entity<Order>(order =>
        {
            order.ToTable("shop_orders");
            order.Property(o => o.Id).UseIdentityByDefaultColumn();
            order.Property(o => o.Item).HasMaxLength(100);
            order.Property(o => o.Amount).HasPrecision(10, 2);
        });
    }
}
