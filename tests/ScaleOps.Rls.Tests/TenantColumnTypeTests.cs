using System;
using System.Linq;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests;

/// <summary>
/// The tenant and user column types the policy can compare exactly with the id, and the ones it refuses: a type whose
/// cast merges distinct ids (name truncates, numeric keeps its scale, citext ignores case) would let one tenant read
/// another's rows. A domain is judged by its base type.
/// </summary>
public class TenantColumnTypeTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    [Theory]
    [InlineData("name", "name")]
    [InlineData("numeric", "numeric")]
    [InlineData("numeric(10,0)", "numeric")]
    [InlineData("real", "real")]
    [InlineData("double precision", "double precision")]
    [InlineData("date", "date")]
    [InlineData("bytea", "bytea")]
    [InlineData("\"char\"", "\"char\"")]
    [InlineData("text[]", "text[]")]
    [InlineData("id_numeric", "numeric")]
    public async Task A_tenant_column_of_a_type_whose_cast_merges_ids_is_refused_at_apply_and_at_start_up(string type, string baseType)
    {
        var name = "typed_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(type)))[..12];
        await PostgresServer.ExecuteAsync(
            "DO $$ BEGIN CREATE DOMAIN id_numeric AS numeric; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            + $"CREATE TABLE {name} (tenant_id {type} NOT NULL, body text NOT NULL); CREATE INDEX ON {name} (tenant_id);"
            + $"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; GRANT SELECT ON {name} TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", name);
        var expected = $"table {name}'s tenant column tenant_id has type {baseType} (for a domain, its base type), which the policy cannot compare exactly";

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => RlsChecks.Manager(database, table).ApplyAsync());
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_name_tenant_column_cannot_let_a_64_byte_tenant_read_its_63_byte_prefix()
    {
        // text::name truncates to 63 bytes, and a TenantId may be 128 characters long.
        var owner = new string('a', 63);
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE named_ids (tenant_id name NOT NULL, body text NOT NULL); CREATE INDEX ON named_ids (tenant_id);"
            + $"INSERT INTO named_ids VALUES ('{owner}', 'secret of the 63-byte tenant'); GRANT SELECT ON named_ids TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "named_ids");
        await Assert.ThrowsAsync<InvalidOperationException>(() => RlsChecks.Manager(database, table).ApplyAsync());

        // Secured by hand with the cast the policy used to have: the start-up check still refuses the column.
        await PostgresServer.ExecuteAsync(
            "ALTER TABLE named_ids ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;"
            + "CREATE POLICY scaleops_tenant ON named_ids USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::name)", database.Name);
        Assert.NotEmpty(await RlsChecks.ReadAsAsync(database, "SELECT body FROM named_ids", owner + "-evil")); // the leak it prevents
        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Contains(errors, e => e.StartsWith("table named_ids's tenant column tenant_id has type name", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("smallint", "7", "7", "07,+7,7.0,-0007")]
    [InlineData("integer", "7", "7", "07,+7,7.0,7e0")]
    [InlineData("bigint", "7", "7", "007,+7,7.0")]
    [InlineData("numeric_free_int", "7", "7", "07,+7")]
    [InlineData("uuid", "'0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0001'", "0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0001",
        "0B7F9A52-2A5C-4C59-9D5E-9A4A8D2C0001,{0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0001},0b7f9a522a5c4c599d5e9a4a8d2c0001")]
    [InlineData("text", "'acme'", "acme", "ACME,acme-evil,Acme")]
    [InlineData("varchar(4)", "'acme'", "acme", "ACME,acme-evil,acme1")]
    [InlineData("char(4)", "'acme'", "acme", "ACME,acme-evil,acme1")]
    [InlineData("id_text", "'acme'", "acme", "ACME,acme-evil")]
    [InlineData("id_short", "'acme'", "acme", "ACME,acme-evil")]
    public async Task A_supported_tenant_column_never_shares_rows_with_another_spelling(string type, string stored, string canonical, string spellings)
    {
        // A domain over a supported type is supported: id_text is a domain over a domain over text, id_short over varchar(4).
        var columnType = type == "numeric_free_int" ? "id_int" : type;
        var name = "spelled_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(type)))[..12];
        await PostgresServer.ExecuteAsync(
            "DO $$ BEGIN CREATE DOMAIN id_text_base AS text; CREATE DOMAIN id_text AS id_text_base; CREATE DOMAIN id_short AS varchar(4);"
            + " CREATE DOMAIN id_int AS integer; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            + $"CREATE TABLE {name} (tenant_id {columnType} NOT NULL, body text NOT NULL); CREATE INDEX ON {name} (tenant_id);"
            + $"INSERT INTO {name} VALUES ({stored}, 'secret of {canonical}'); GRANT SELECT, INSERT ON {name} TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", name);
        await RlsChecks.Manager(database, table).ApplyAsync();
        Assert.Empty((await RlsChecks.SafetyAsync(database, table)).Errors);

        Assert.Equal([$"secret of {canonical}"], await RlsChecks.ReadAsAsync(database, $"SELECT body FROM {name}", canonical));
        foreach (var spelling in spellings.Split(','))
        {
            var rows = Array.Empty<string>();
            var error = await Record.ExceptionAsync(async () => rows = await RlsChecks.ReadAsAsync(database, $"SELECT body FROM {name}", spelling));
            Assert.True(error is PostgresException { SqlState: PostgresErrorCodes.InvalidTextRepresentation } || (error is null && rows.Length == 0),
                $"tenant '{spelling}' of a {type} column read [{string.Join(", ", rows)}] of tenant '{canonical}' (error: {error?.Message ?? "none"})");
        }
    }

    [Fact]
    public async Task A_bpchar_user_column_does_not_let_a_user_id_with_trailing_blanks_read_another_user_s_rows()
    {
        // A user id is not validated like a TenantId: 'alice ' = 'alice' in a char(n) column, so the user setting is checked.
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE fixed_owners (tenant_id text NOT NULL, user_id char(8) NOT NULL, body text NOT NULL); CREATE INDEX ON fixed_owners (tenant_id);"
            + "INSERT INTO fixed_owners VALUES ('t01', 'alice', 'of alice'); GRANT SELECT ON fixed_owners TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "fixed_owners", RlsTableKind.UserOwned);
        await RlsChecks.Manager(database, table).ApplyAsync();

        Assert.Equal(["of alice"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM fixed_owners", "t01", "alice"));
        // The message of the check casts to bpchar without an error, so the other spelling matches no row instead.
        Assert.Empty(await RlsChecks.ReadAsAsync(database, "SELECT body FROM fixed_owners", "t01", "alice "));
        Assert.Empty(await RlsChecks.ReadAsAsync(database, "SELECT body FROM fixed_owners", "t01", "alice  "));
    }

    [Theory]
    [InlineData("tenant")]
    [InlineData("user")]
    public async Task A_domain_over_citext_is_refused_like_citext(string column)
    {
        // The domain has its own name and a deterministic collation, but compares like its base type: 'ACME' = 'acme'.
        var name = "ci_domain_" + column;
        var (tenantType, userType) = column == "tenant" ? ("ci_id", "text") : ("text", "ci_id");
        await PostgresServer.ExecuteAsync(
            "CREATE EXTENSION IF NOT EXISTS citext; DO $$ BEGIN CREATE DOMAIN ci_id_base AS citext; CREATE DOMAIN ci_id AS ci_id_base; "
            + "EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            + $"CREATE TABLE {name} (tenant_id {tenantType} NOT NULL, user_id {userType} NOT NULL, body text NOT NULL); CREATE INDEX ON {name} (tenant_id);"
            + $"INSERT INTO {name} VALUES ('acme', 'alice', 'secret'); GRANT SELECT ON {name} TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", name, RlsTableKind.UserOwned);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => RlsChecks.Manager(database, table).ApplyAsync());
        var expected = $"{column} column {column}_id compares case-insensitively";
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("text COLLATE ci_und", "text")]
    [InlineData("varchar(20) COLLATE ci_und", "text")]
    [InlineData("ci_text", "text")]
    [InlineData("citext", "citext")]
    public async Task A_user_column_that_compares_case_insensitively_is_refused_at_apply_and_at_start_up(string type, string cast)
    {
        // A user id is case-sensitive to the application: in such a column 'ALICE' = 'alice', so user 'ALICE' would read
        // and write alice's rows (the per-user policy compares the column with the setting in the column's collation).
        var name = "ci_user_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(type)))[..8];
        await PostgresServer.ExecuteAsync(
            "CREATE EXTENSION IF NOT EXISTS citext;"
            + "DO $$ BEGIN CREATE COLLATION ci_und (provider = icu, locale = 'und-u-ks-level2', deterministic = false); "
            + "EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            + "DO $$ BEGIN CREATE DOMAIN ci_text AS text COLLATE ci_und; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            + $"CREATE TABLE {name} (tenant_id text NOT NULL, user_id {type} NOT NULL, body text NOT NULL); CREATE INDEX ON {name} (tenant_id);"
            + $"INSERT INTO {name} VALUES ('t01', 'alice', 'of alice'); GRANT SELECT ON {name} TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", name, RlsTableKind.UserOwned);
        var expected = $"table {name}'s user column user_id compares case-insensitively";

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => RlsChecks.Manager(database, table).ApplyAsync());
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);

        // Secured by hand the way ScaleOps would (the policy it renders, cast to the column's base type): 'ALICE' reads alice's
        // rows, and the start-up check refuses the table.
        await PostgresServer.ExecuteAsync(
            $"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; CREATE POLICY scaleops_owner ON {name} USING ("
            + "tenant_id = nullif(current_setting('app.tenant_id', true), '')::text "
            + $"AND user_id = nullif(current_setting('app.user_id', true), '')::{cast})", database.Name);
        Assert.Equal(["of alice"], await RlsChecks.ReadAsAsync(database, $"SELECT body FROM {name}", "t01", "ALICE"));
        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }
}
