using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Apex.Auth.Data.Migrations
{
    /// <inheritdoc />
    public partial class OidcIdentities : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "auth_identities",
                columns: table => new
                {
                    Provider = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Subject = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    UserId = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    Email = table.Column<string>(type: "TEXT", maxLength: 320, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_auth_identities", x => new { x.Provider, x.Subject });
                });

            migrationBuilder.CreateTable(
                name: "auth_oidc_flows",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Nonce = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    CodeVerifier = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    RedirectUri = table.Column<string>(type: "TEXT", maxLength: 2048, nullable: false),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_auth_oidc_flows", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "auth_oidc_handoffs",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_auth_oidc_handoffs", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_auth_identities_UserId_Provider",
                table: "auth_identities",
                columns: new[] { "UserId", "Provider" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_auth_oidc_flows_ExpiresAt",
                table: "auth_oidc_flows",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_auth_oidc_handoffs_ExpiresAt",
                table: "auth_oidc_handoffs",
                column: "ExpiresAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "auth_identities");

            migrationBuilder.DropTable(
                name: "auth_oidc_flows");

            migrationBuilder.DropTable(
                name: "auth_oidc_handoffs");
        }
    }
}
