using Microsoft.AspNetCore.Http;
using ScaleOps.SampleHost.Admin;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The admin key check itself, without a host.</summary>
public class AdminKeyTests
{
    [Theory]
    [InlineData("", "")]
    [InlineData("   ", "   ")]
    public void An_empty_configured_admin_key_admits_nobody_even_an_empty_header(string configured, string given)
    {
        var http = new DefaultHttpContext();
        http.Request.Headers[AdminKeyFilter.Header] = given;
        Assert.False(AdminKeyFilter.IsAdmin(http.Request, new SampleOptions { AdminKey = configured }));
    }

    [Fact]
    public void The_admin_key_must_match_exactly()
    {
        var options = new SampleOptions { AdminKey = SampleHostFixture.AdminKey };
        foreach (var given in new[] { SampleHostFixture.AdminKey, SampleHostFixture.AdminKey + "x", SampleHostFixture.AdminKey[..^1], "" })
        {
            var http = new DefaultHttpContext();
            http.Request.Headers[AdminKeyFilter.Header] = given;
            Assert.Equal(given == SampleHostFixture.AdminKey, AdminKeyFilter.IsAdmin(http.Request, options));
        }
    }
}
