namespace EfCore.Shop;

/// <summary>An order of one customer: a bigint identity key, numbered by the database.</summary>
public sealed class Order
{
    public long Id { get; set; }

    public Guid CustomerId { get; set; }

    public Customer? Customer { get; set; }

    public required string Item { get; set; }

    public int Quantity { get; set; }

    public decimal Amount { get; set; }

    public DateTime PlacedAt { get; set; }
}
