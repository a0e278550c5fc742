using System.Linq;
using ScaleOps.Tenancy;

namespace ScaleOps.Core.Tests.Tenancy;

public class TenantHashTagTests
{
    [Theory]
    [InlineData("acme", "{acme}")]
    [InlineData("a}:x", "{a%7D:x}")]
    [InlineData("{a}", "{%7Ba%7D}")]
    [InlineData("100%", "{100%25}")]
    [InlineData("a%7D", "{a%257D}")]
    public void A_tenant_s_hash_tag_ends_at_the_tenant_s_end(string tenant, string tag) =>
        Assert.Equal(tag, TenantHashTag.Of(new TenantId(tenant)));

    [Fact]
    public void Distinct_tenants_never_share_a_tag() =>
        Assert.Equal(5, new[] { "a}", "a%7D", "a%257D", "a{", "a" }.Select(t => TenantHashTag.Of(new TenantId(t))).Distinct().Count());
}
