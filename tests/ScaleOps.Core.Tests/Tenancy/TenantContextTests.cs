using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Tenancy;

namespace ScaleOps.Core.Tests.Tenancy;

public class TenantContextTests
{
    private readonly ITenantContext _context = new ServiceCollection().AddScaleOps().Services.BuildServiceProvider()
        .GetRequiredService<ITenantContext>();

    [Fact]
    public void Outside_a_scope_there_is_no_tenant_and_require_throws()
    {
        Assert.Null(_context.Tenant);
        Assert.Empty(_context.Roles);
        var ex = Assert.Throws<TenantRequiredException>(() => _context.RequireTenant());
        Assert.Contains("BeginScope", ex.Message, StringComparison.Ordinal);

        // It points to what a package user has: the sample host's files are not in the packages.
        Assert.DoesNotContain("sample host", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps.Rls README", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nested_scopes_restore_the_outer_one()
    {
        using (_context.BeginScope(new TenantId("outer"), "u1", ["admin"]))
        {
            Assert.Equal("outer", _context.RequireTenant().Value);
            using (_context.BeginScope(new TenantId("inner")))
            {
                Assert.Equal("inner", _context.Tenant!.Value.Value);
                Assert.Null(_context.UserId);
            }

            Assert.Equal("outer", _context.Tenant!.Value.Value);
            Assert.Equal("u1", _context.UserId);
            Assert.Equal(["admin"], _context.Roles);
        }

        Assert.Null(_context.Tenant);
    }

    [Fact]
    public void Disposing_the_outer_scope_first_ends_both_and_double_dispose_is_harmless()
    {
        var outer = _context.BeginScope(new TenantId("outer"));
        var inner = _context.BeginScope(new TenantId("inner"));
        outer.Dispose();
        Assert.Null(_context.Tenant);
        inner.Dispose();
        outer.Dispose();
        Assert.Null(_context.Tenant);
    }

    [Fact]
    public void A_user_id_or_role_that_postgresql_text_cannot_hold_is_rejected_naming_it()
    {
        // They are sent to PostgreSQL as text (ScaleOps.Rls's context): a NUL failed the tenant's first statement with
        // 22021 and an unpaired surrogate in Npgsql's encoder, naming neither the user nor the role; a null role was
        // sent as NULL in the array. Built in code: a lone surrogate in xunit theory data turns into U+FFFD.
        var tenant = new TenantId("acme");
        var cases = new (Action Begin, string Expected)[]
        {
            (() => _context.BeginScope(tenant, "al\0ice"), "userId"),
            (() => _context.BeginScope(tenant, "al" + (char)0xD800 + "ice"), "U+D800"),
            (() => _context.BeginScope(tenant, null, ["reader", "ad\0min"]), "roles[1]"),
            (() => _context.BeginScope(tenant, null, ["reader", (char)0xDC00 + "x"]), "U+DC00"),
            (() => _context.BeginScope(tenant, null, ["reader", null!]), "roles[1] is null"),
        };
        foreach (var (begin, expected) in cases)
        {
            var ex = Assert.Throws<ArgumentException>(begin);
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
            Assert.Null(_context.Tenant);
        }

        using (_context.BeginScope(tenant, "usér-\U0001F600", ["ré,le \"quoted\""]))
        {
            Assert.Equal("usér-\U0001F600", _context.UserId);
        }
    }

    [Fact]
    public void Default_tenant_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => _context.BeginScope(default));
        Assert.Contains("default(TenantId)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_flows_each_see_their_own_tenant()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            using var scope = _context.BeginScope(new TenantId($"t{i}"));
            await Task.Yield();
            await Task.Delay(i % 5);
            return _context.RequireTenant().Value == $"t{i}";
        }));
        Assert.All(results, Assert.True);
        Assert.Null(_context.Tenant);
    }

    [Fact]
    public async Task A_scope_begun_in_a_child_flow_does_not_leak_to_the_parent()
    {
        using var scope = _context.BeginScope(new TenantId("parent"));
        await Task.Run(() =>
        {
            _context.BeginScope(new TenantId("child"));
            Assert.Equal("child", _context.RequireTenant().Value);
        });
        Assert.Equal("parent", _context.RequireTenant().Value);
    }

    [Fact]
    public async Task A_scope_disposed_by_another_flow_is_still_ended_by_its_own()
    {
        using (_context.BeginScope(new TenantId("outer")))
        {
            var inner = _context.BeginScope(new TenantId("inner"));
            await Task.Run(inner.Dispose); // the task's copy of the flow unwinds; this flow is still in "inner"
            Assert.Equal("inner", _context.Tenant!.Value.Value);

            inner.Dispose();
            Assert.Equal("outer", _context.Tenant!.Value.Value);
        }

        Assert.Null(_context.Tenant);
    }

    [Fact]
    public void Roles_are_copied_when_the_scope_begins()
    {
        var roles = new System.Collections.Generic.List<string> { "reader" };
        using var scope = _context.BeginScope(new TenantId("t"), roles: roles);
        roles.Add("writer");
        Assert.Equal(["reader"], _context.Roles);
    }
}
