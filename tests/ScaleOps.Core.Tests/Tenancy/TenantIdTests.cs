using System;
using ScaleOps.Tenancy;

namespace ScaleOps.Core.Tests.Tenancy;

public class TenantIdTests
{
    [Theory]
    [InlineData("acme")]
    [InlineData("3f2504e0-4f89-11d3-9a0c-0305e82c3301")]
    [InlineData("Robert'); DROP TABLE tenants;--")]
    [InlineData("tenant \"quoted\" name")]
    [InlineData("société-générale")]
    [InlineData("日本")]
    [InlineData("emoji-\U0001F600")]
    public void Accepts_printable_identifiers_including_hostile_sql(string value)
    {
        var id = new TenantId(value);
        Assert.Equal(value, id.Value);
        Assert.Equal(value, id.ToString());
        Assert.True(TenantId.TryParse(value, out var parsed));
        Assert.Equal(id, parsed);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData(" acme", "white space")]
    [InlineData("acme\t", "white space")]
    [InlineData("ac\0me", "U+0000")]
    [InlineData("ac\nme", "U+000A")]
    [InlineData("ac\u200Bme", "U+200B")]
    [InlineData("ac\u202Eme", "U+202E")]
    [InlineData("ac\u2028me", "U+2028")]
    [InlineData("ac\uE000me", "U+E000")]
    public void Rejects_invalid_identifiers_naming_the_rule(string value, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => new TenantId(value));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.False(TenantId.TryParse(value, out _));
    }

    [Fact]
    public void Rejects_unpaired_surrogates()
    {
        var value = "ac" + (char)0xD800 + "me";
        var ex = Assert.Throws<ArgumentException>(() => new TenantId(value));
        Assert.Contains("U+D800", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new TenantId("me" + (char)0xDC00));
    }

    [Theory]
    [InlineData("ac\u034Fme", "U+034F")]
    [InlineData("\u3164", "U+3164")]
    [InlineData("ac\u115Fme", "U+115F")]
    [InlineData("acme\uFE0F", "U+FE0F")]
    [InlineData("ac\u180Bme", "U+180B")]
    [InlineData("acme\uFFA0", "U+FFA0")]
    [InlineData("acme\U000E0100", "U+E0100")]
    public void Rejects_invisible_characters_that_make_a_lookalike_of_another_tenant(string value, string expected)
    {
        // Default-ignorable code points render as nothing, like the zero-width marks already refused: 'acme' followed by
        // a combining grapheme joiner or a variation selector was accepted as a second tenant that displays as 'acme',
        // and a Hangul filler alone as a tenant that displays as blank.
        var ex = Assert.Throws<ArgumentException>(() => new TenantId(value));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("invisible", ex.Message, StringComparison.Ordinal);
        Assert.False(TenantId.TryParse(value, out _));
    }

    [Fact]
    public void Rejects_over_long_identifiers()
    {
        Assert.Equal(TenantId.MaxLength, new TenantId(new string('a', TenantId.MaxLength)).Value.Length);
        var ex = Assert.Throws<ArgumentException>(() => new TenantId(new string('a', TenantId.MaxLength + 1)));
        Assert.Contains("maximum is 128", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_null()
    {
        Assert.Throws<ArgumentNullException>(() => new TenantId(null!));
        Assert.False(TenantId.TryParse(null, out _));
    }

    [Fact]
    public void Default_is_not_a_tenant()
    {
        var none = default(TenantId);
        Assert.True(none.IsDefault);
        Assert.Throws<InvalidOperationException>(() => none.Value);
        Assert.NotEqual(new TenantId("a"), none);
    }

    [Fact]
    public void Comparison_is_ordinal_and_case_sensitive()
    {
        Assert.NotEqual(new TenantId("Acme"), new TenantId("acme"));
        Assert.True(new TenantId("Acme") < new TenantId("acme"));
        Assert.Equal(new TenantId("acme").GetHashCode(), TenantId.Parse("acme").GetHashCode());
    }
}
