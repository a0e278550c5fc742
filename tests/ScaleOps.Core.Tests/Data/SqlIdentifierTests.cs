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
    public async Task Rejects_unpaired_surrogates_which_have_no_utf8_form()
    {
        // Validate counted the replacement character's 3 bytes and passed; the statement then failed in Npgsql's encoder
        // with an EncoderFallbackException that names neither the identifier nor the rule. (Built in code: xunit's theory
        // data would turn a lone surrogate into U+FFFD.)
        foreach (var (name, expected) in new[]
        {
            ("t" + (char)0xD800 + "x", "U+D800 at index 1"),
            ("t" + (char)0xDC00, "U+DC00 at index 1"),
            (string.Concat((char)0xDBFF, (char)0xDBFF, (char)0xDC00), "U+DBFF at index 0"),
        })
        {
            var ex = Assert.Throws<ArgumentException>(() => SqlIdentifier.Quote(name));
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
            Assert.Contains("unpaired surrogate", SqlIdentifier.Validate(name), StringComparison.Ordinal);
        }

        // A well-formed pair is one code point of 4 bytes and round-trips.
        await Quoted_names_round_trip_through_postgres_unchanged("t\U0001F600x");
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
