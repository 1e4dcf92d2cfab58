using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Apex.Migrations.Postgres.Datasets
{
    /// <inheritdoc />
    public partial class LiveUsage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Kind",
                table: "datasets",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "upload");

            migrationBuilder.AddColumn<long>(
                name: "MaxTimestampMs",
                table: "dataset_chunks",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "MinTimestampMs",
                table: "dataset_chunks",
                type: "bigint",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "dataset_budgets",
                columns: table => new
                {
                    DatasetId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    MonthlyUsd = table.Column<double>(type: "double precision", nullable: false),
                    FeaturesJson = table.Column<string>(type: "text", nullable: false),
                    WebhookUrl = table.Column<string>(type: "character varying(2000)", maxLength: 2000, nullable: true),
                    WebhookSecret = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    SpikeFactor = table.Column<double>(type: "double precision", nullable: false),
                    UpdatedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_dataset_budgets", x => x.DatasetId);
                    table.ForeignKey(
                        name: "FK_dataset_budgets_datasets_DatasetId",
                        column: x => x.DatasetId,
                        principalTable: "datasets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "ingest_keys",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    KeyHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    KeyPrefix = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    DatasetId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    LastUsedAtMs = table.Column<long>(type: "bigint", nullable: true),
                    RevokedAtMs = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ingest_keys", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ingest_keys_datasets_DatasetId",
                        column: x => x.DatasetId,
                        principalTable: "datasets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "live_daily_costs",
                columns: table => new
                {
                    DatasetId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Day = table.Column<long>(type: "bigint", nullable: false),
                    Feature = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    CostUsd = table.Column<double>(type: "double precision", nullable: false),
                    Calls = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_live_daily_costs", x => new { x.DatasetId, x.Day, x.Feature });
                    table.ForeignKey(
                        name: "FK_live_daily_costs_datasets_DatasetId",
                        column: x => x.DatasetId,
                        principalTable: "datasets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "usage_alerts",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    DatasetId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Kind = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Feature = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    Period = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Json = table.Column<string>(type: "text", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_usage_alerts", x => x.Id);
                    table.ForeignKey(
                        name: "FK_usage_alerts_datasets_DatasetId",
                        column: x => x.DatasetId,
                        principalTable: "datasets",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_ingest_keys_DatasetId",
                table: "ingest_keys",
                column: "DatasetId");

            migrationBuilder.CreateIndex(
                name: "IX_ingest_keys_KeyHash",
                table: "ingest_keys",
                column: "KeyHash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ingest_keys_UserId_Id",
                table: "ingest_keys",
                columns: new[] { "UserId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_usage_alerts_DatasetId_Kind_Feature_Period",
                table: "usage_alerts",
                columns: new[] { "DatasetId", "Kind", "Feature", "Period" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_usage_alerts_UserId_Id",
                table: "usage_alerts",
                columns: new[] { "UserId", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "dataset_budgets");

            migrationBuilder.DropTable(
                name: "ingest_keys");

            migrationBuilder.DropTable(
                name: "live_daily_costs");

            migrationBuilder.DropTable(
                name: "usage_alerts");

            migrationBuilder.DropColumn(
                name: "Kind",
                table: "datasets");

            migrationBuilder.DropColumn(
                name: "MaxTimestampMs",
                table: "dataset_chunks");

            migrationBuilder.DropColumn(
                name: "MinTimestampMs",
                table: "dataset_chunks");
        }
    }
}
