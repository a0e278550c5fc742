using System;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Data;

public class SqlIdentifierTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    public static TheoryData<string> HostileNames =>
    [
        "plain",
        "MixedCase",
        "has space",
        "quote\"inside",
        "\"",
        "\"\"\"",
        "semi;colon",
        "x\"; DROP TABLE victims; --",
        "back\\slash",
        "dollar$$quote",
        "ünïcödé-名前",
        "tab\there",
        new string('x', 63),
        new string('é', 31),
    ];

    [Theory]
    [MemberData(nameof(HostileNames))]
    public async Task Quoted_names_round_trip_through_postgres_unchanged(string name)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using (var create = new NpgsqlCommand(
            $"CREATE TABLE victims_{Math.Abs(name.GetHashCode()):x} (id int); CREATE TABLE {SqlIdentifier.Quote(name)} ({SqlIdentifier.Quote(name)} int)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using var check = new NpgsqlCommand(
            "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1 WHERE c.relname = $1", connection);
        check.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        await using var reader = await check.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"table {name} was not created under its exact name");
        Assert.Equal(name, reader.GetString(0));
        Assert.Equal(name, reader.GetString(1));
        Assert.False(await reader.ReadAsync());
        await reader.DisposeAsync();

        await using var victims = new NpgsqlCommand($"SELECT count(*) FROM victims_{Math.Abs(name.GetHashCode()):x}", connection);
        Assert.Equal(0L, await victims.ExecuteScalarAsync());
    }

    [Fact]
    public void Quote_doubles_embedded_quotes()
    {
        Assert.Equal("\"a\"\"b\"", SqlIdentifier.Quote("a\"b"));
        Assert.Equal("\"s\".\"t\"", SqlIdentifier.Qualify("s", "t"));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("nul\0byte", "NUL")]
    public void Rejects_invalid_names(string name, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => SqlIdentifier.Quote(name));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_names_that_postgres_would_truncate()
    {
        var ex = Assert.Throws<ArgumentException>(() => SqlIdentifier.Quote(new string('x', 64)));
        Assert.Contains("64 bytes", ex.Message, StringComparison.Ordinal);

        // 32 two-byte characters: 32 characters but 64 bytes.
        ex = Assert.Throws<ArgumentException>(() => SqlIdentifier.Quote(new string('é', 32)));
        Assert.Contains("64 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SqlIdentifier.Qualify("ok", new string('日', 22)));
    }
}
