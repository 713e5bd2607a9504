using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

namespace Dsql.EntityFrameworkCore.Tests.TestMigrations;

// Hand-written migrations of MigBlogContext, as `dotnet ef migrations add` would write them.

[DbContext(typeof(MigBlogContext))]
[Migration("20260101000001_Blogs")]
public sealed class Blogs : Migration
{
    protected override void Up(MigrationBuilder b)
    {
        b.CreateTable("mig_blogs", t => new
        {
            Id = t.Column<Guid>("uuid", nullable: false, defaultValueSql: "gen_random_uuid()"),
            Name = t.Column<string>("text", nullable: false),
            Meta = t.Column<string>("jsonb", nullable: true),
        }, constraints: t => t.PrimaryKey("PK_mig_blogs", x => x.Id));
        b.CreateTable("mig_posts", t => new
        {
            Id = t.Column<long>("bigint", nullable: false).Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
            BlogId = t.Column<Guid>("uuid", nullable: false),
            Title = t.Column<string>("text", nullable: false),
        }, constraints: t =>
        {
            t.PrimaryKey("PK_mig_posts", x => x.Id);
            t.ForeignKey("FK_mig_posts_mig_blogs_BlogId", x => x.BlogId, "mig_blogs", "Id", onDelete: ReferentialAction.Cascade);
        });
        b.CreateIndex("IX_mig_posts_Title", "mig_posts", "Title");
        b.CreateIndex("IX_mig_posts_BlogId", "mig_posts", "BlogId");
    }

    protected override void Down(MigrationBuilder b)
    {
        b.DropTable("mig_posts");
        b.DropTable("mig_blogs");
    }
}

[DbContext(typeof(MigBlogContext))]
[Migration("20260101000002_Rating")]
public sealed class Rating : Migration
{
    protected override void Up(MigrationBuilder b)
    {
        b.AddColumn<int>("Rating", "mig_blogs", "integer", nullable: false, defaultValue: 0);
        b.AddColumn<string>("Note", "mig_posts", "text", nullable: true);
    }

    protected override void Down(MigrationBuilder b)
    {
        b.DropColumn("Note", "mig_posts");
        b.DropColumn("Rating", "mig_blogs");
    }

    protected override void BuildTargetModel(ModelBuilder modelBuilder) => TargetModels.Build(modelBuilder);
}

[DbContext(typeof(MigBlogContext))]
[Migration("20260101000003_Wide")]
public sealed class Wide : Migration
{
    /// <summary>The 20 operations of the wide migration (also used by the generated-SQL test).</summary>
    public static void Operations(MigrationBuilder b)
    {
        b.CreateTable("mig_tags", t => new
        {
            Id = t.Column<Guid>("uuid", nullable: false, defaultValueSql: "gen_random_uuid()"),
            PostId = t.Column<long>("bigint", nullable: false),
            Label = t.Column<string>("character varying(50)", maxLength: 50, nullable: false),
        }, constraints: t => t.PrimaryKey("PK_mig_tags", x => x.Id));                                                  // 1
        b.AddForeignKey("FK_mig_tags_mig_posts_PostId", "mig_tags", "PostId", "mig_posts", principalColumn: "Id"); // 2
        b.CreateIndex("IX_mig_tags_Label", "mig_tags", "Label");                                                    // 3
        b.CreateIndex("IX_mig_tags_PostId", "mig_tags", "PostId");                                                  // 4
        b.CreateTable("mig_wide", t => new
        {
            Id = t.Column<long>("bigint", nullable: false).Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
            Code = t.Column<string>("text", nullable: true),
        }, constraints: t => t.PrimaryKey("PK_mig_wide", x => x.Id));                                                 // 5
        b.AddColumn<int>("Score", "mig_wide", "integer", nullable: true);                                           // 6
        b.AddColumn<int>("Level", "mig_wide", "integer", nullable: false, defaultValue: 1);                         // 7
        b.AddColumn<DateTime>("Created", "mig_wide", "timestamp with time zone", nullable: true, defaultValueSql: "now()"); // 8
        b.AddCheckConstraint("CK_mig_wide_Score", "mig_wide", "\"Score\" >= 0");                                    // 9
        b.AddUniqueConstraint("AK_mig_wide_Code", "mig_wide", "Code");                                              // 10
        b.RenameColumn("Score", "mig_wide", "Points");                                                              // 11
        b.AlterColumn<string>("Code", "mig_wide", "text", nullable: true, defaultValue: "none", oldClrType: typeof(string), oldType: "text", oldNullable: true); // 12
        b.AddColumn<bool>("Flag", "mig_wide", "boolean", nullable: true);                                           // 13
        b.AlterColumn<bool>("Flag", "mig_wide", "boolean", nullable: true, defaultValue: false, oldClrType: typeof(bool), oldType: "boolean", oldNullable: true); // 14
        b.CreateIndex("IX_mig_wide_Level_Points", "mig_wide", ["Level", "Points"], descending: [false, true]);     // 15
        b.DropIndex("IX_mig_tags_Label");                                                                           // 16
        b.RenameIndex("IX_mig_tags_PostId", "IX_mig_tags_Post");                                                    // 17
        b.Sql("INSERT INTO mig_wide (\"Code\") VALUES ('first')");                                                  // 18
        b.DropColumn("Flag", "mig_wide");                                                                           // 19
        b.AddColumn<long>("Views", "mig_posts", "bigint", nullable: true);                                          // 20
    }

    protected override void Up(MigrationBuilder b) => Operations(b);

    protected override void Down(MigrationBuilder b)
    {
        b.DropColumn("Views", "mig_posts");
        b.DropTable("mig_wide");
        b.DropTable("mig_tags");
    }

    protected override void BuildTargetModel(ModelBuilder modelBuilder)
    {
        TargetModels.Build(modelBuilder);
        modelBuilder.Entity("Wide", e =>
        {
            e.Property<long>("Id");
            e.Property<int>("Level");
            e.HasKey("Id");
            e.ToTable("mig_wide");
        });
    }
}

internal static class TargetModels
{
    // The part of a Designer file the generator reads: tables and their primary keys.
    public static void Build(ModelBuilder modelBuilder)
    {
        modelBuilder.HasAnnotation("ProductVersion", "10.0.4");
        modelBuilder.Entity("Blog", e =>
        {
            e.Property<Guid>("Id");
            e.Property<int>("Rating");
            e.HasKey("Id");
            e.ToTable("mig_blogs");
        });
        modelBuilder.Entity("Post", e =>
        {
            e.Property<long>("Id");
            e.HasKey("Id");
            e.ToTable("mig_posts");
        });
    }
}
