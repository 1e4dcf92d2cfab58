using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Apex.Migrations.Postgres.Datasets
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "datasets",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Name = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    Rows = table.Column<int>(type: "integer", nullable: false),
                    ColumnsJson = table.Column<string>(type: "text", nullable: false),
                    WarningsJson = table.Column<string>(type: "text", nullable: false),
                    PeriodStartMs = table.Column<long>(type: "bigint", nullable: true),
                    PeriodEndMs = table.Column<long>(type: "bigint", nullable: true),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    StoredBytes = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_datasets", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "dataset_chunks",
                columns: table => new
                {
                    DatasetId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Seq = table.Column<int>(type: "integer", nullable: false),
                    UserId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    RowCount = table.Column<int>(type: "integer", nullable: false),
                    Data = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_dataset_chunks", x => new { x.DatasetId, x.Seq });
                    table.ForeignKey(
                        name: "FK_dataset_chunks_datasets_DatasetId",
                        column: x => x.DatasetId,
                        principalTable: "datasets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_datasets_UserId_Id",
                table: "datasets",
                columns: new[] { "UserId", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "dataset_chunks");

            migrationBuilder.DropTable(
                name: "datasets");
        }
    }
}
