using Dsql.Sync.Pipeline;
using static Dsql.Sync.Tests.PipelineYaml;

namespace Dsql.Sync.Tests;

public sealed class PipelineTableSelectionTests
{
    private static TableSelection Select(string schemas, string tables) =>
        PipelineDefinition.Parse(Minimal(("source.schema-name", schemas), ("source.table-name", tables))).Source.Tables;

    [Fact]
    public void A_comma_list_selects_exactly_the_named_tables()
    {
        var tables = Select("public", "orders, products ,customers");

        Assert.Equal(["orders", "products", "customers"], tables.TablePatterns);
        Assert.True(tables.Includes("public", "orders"));
        Assert.True(tables.Includes("public", "customers"));
        Assert.False(tables.Includes("public", "orders_archive"));
        Assert.False(tables.Includes("public", "my_orders"));
        Assert.False(tables.Includes("sales", "orders"));
    }

    [Fact]
    public void Patterns_match_the_whole_name_and_a_YAML_list_may_hold_commas()
    {
        var tables = Select("\n    - 'sales_[0-9]{2,4}'", "\n    - 'order_line_.*'\n    - 'item[0-9]{1,2}'");

        Assert.True(tables.Includes("sales_2026", "order_line_a"));
        Assert.True(tables.Includes("sales_26", "item7"));
        Assert.False(tables.Includes("sales_2", "item7"));
        Assert.False(tables.Includes("sales_2026", "item123"));
        Assert.False(tables.Includes("xsales_2026", "item1"));
        Assert.False(tables.Includes("sales_2026", "item1\n"));
    }

    [Fact]
    public void Names_are_matched_case_sensitively_as_the_catalog_stores_them()
    {
        var tables = Select("public", "Orders");

        Assert.True(tables.Includes("public", "Orders"));
        Assert.False(tables.Includes("public", "orders"));
        Assert.False(tables.Includes("PUBLIC", "Orders"));
    }

    [Fact]
    public void Several_schemas_combine_with_several_tables()
    {
        var tables = Select("public,archive", "a,b");

        Assert.True(tables.Includes("archive", "b"));
        Assert.True(tables.Includes("public", "a"));
        Assert.False(tables.Includes("other", "a"));
    }
}
