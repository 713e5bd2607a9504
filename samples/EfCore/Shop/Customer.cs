namespace EfCore.Shop;

/// <summary>A customer: a Guid key (no sequence to coordinate across DSQL's nodes), a unique e-mail address.</summary>
public sealed class Customer
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public required string Email { get; set; }

    public List<Order> Orders { get; } = [];
}
