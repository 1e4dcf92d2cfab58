using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Apex.Chat.Datasets.Migrations
{
    /// <inheritdoc />
    public partial class ImportFormats : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "Aggregated",
                table: "datasets",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<long>(
                name: "Calls",
                table: "datasets",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<bool>(
                name: "CostOnly",
                table: "datasets",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "SourceFormat",
                table: "datasets",
                type: "TEXT",
                maxLength: 64,
                nullable: false,
                defaultValue: "apex");

            migrationBuilder.AddColumn<string>(
                name: "SourceFormatName",
                table: "datasets",
                type: "TEXT",
                maxLength: 128,
                nullable: false,
                defaultValue: "Apex usage columns");

            // Datasets stored before request counts existed are per-call logs: one call a row.
            migrationBuilder.Sql("UPDATE datasets SET \"Calls\" = \"Rows\";");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Aggregated",
                table: "datasets");

            migrationBuilder.DropColumn(
                name: "Calls",
                table: "datasets");

            migrationBuilder.DropColumn(
                name: "CostOnly",
                table: "datasets");

            migrationBuilder.DropColumn(
                name: "SourceFormat",
                table: "datasets");

            migrationBuilder.DropColumn(
                name: "SourceFormatName",
                table: "datasets");
        }
    }
}
