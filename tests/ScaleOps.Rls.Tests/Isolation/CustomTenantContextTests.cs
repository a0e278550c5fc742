using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ScaleOps.Data;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests.Isolation;

/// <summary>
/// A host may register its own <see cref="ITenantContext"/> (reading the user and roles from its claims, say), which the
/// core's <c>BeginScope</c> checks do not cover: a user id or role PostgreSQL text cannot hold (a NUL, an unpaired
/// surrogate) is refused by ScaleOps.Rls before it is sent, naming the value, instead of failing in PostgreSQL or
/// Npgsql's encoder without saying which value it was.
/// </summary>
public class CustomTenantContextTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private sealed class ClaimsTenantContext : ITenantContext
    {
        public TenantId? Tenant { get; set; }

        public string? UserId { get; set; }

        public IReadOnlyList<string> Roles { get; set; } = [];

        public TenantId RequireTenant() => Tenant ?? throw new TenantRequiredException();

        public TenantScope BeginScope(TenantId tenant, string? userId = null, IReadOnlyList<string>? roles = null) =>
            throw new NotSupportedException();
    }

    [Theory]
    [InlineData("ali\0ce", null, "user id: it contains a NUL character at index 3")]
    [InlineData("ali<D800>ce", null, "user id: it contains an unpaired surrogate U+D800 at index 3")]
    [InlineData("alice", "aud\0itor", "roles[1]: it contains a NUL character at index 3")]
    public async Task A_user_id_or_role_that_PostgreSQL_text_cannot_hold_is_refused_naming_it(string userId, string? role, string problem)
    {
        userId = userId.Replace("<D800>", "\ud800", StringComparison.Ordinal); // a lone surrogate does not survive theory data
        var context = new ClaimsTenantContext { Tenant = new TenantId("t01"), UserId = userId, Roles = role is null ? [] : ["reader", role] };
        await using var services = RlsDatabase.Services(database.AppConnectionString(), more: s => s.Replace(ServiceDescriptor.Singleton<ITenantContext>(context)));
        var apis = new RlsApis(services);

        var open = await Assert.ThrowsAsync<ArgumentException>(async () => await apis.Data.OpenConnectionAsync());
        Assert.Contains(problem, open.Message, StringComparison.Ordinal);
        var begin = await Assert.ThrowsAsync<ArgumentException>(async () => await apis.Data.BeginTransactionAsync());
        Assert.Contains(problem, begin.Message, StringComparison.Ordinal);
        await using var db = apis.NewContext();
        var ef = await Assert.ThrowsAsync<ArgumentException>(() => db.Documents.CountAsync());
        Assert.Contains(problem, ef.Message, StringComparison.Ordinal);

        // The same context with clean values works.
        context.UserId = "alice";
        context.Roles = ["reader"];
        Assert.Equal(1, await db.Documents.CountAsync());
    }
}
