using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using System.Text.Json;
using ScaleOps.Demo;

// Usage: ScaleOps.Demo <base-url> <admin-key>
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: ScaleOps.Demo <base-url> <admin-key>");
    return 2;
}

using var http = new HttpClient { BaseAddress = new Uri(args[0]), Timeout = TimeSpan.FromSeconds(30) };
var walk = new Walkthrough(http, args[1]);
var run = Guid.NewGuid().ToString("N")[..6];
var acme = $"acme-{run}";
var globex = $"globex-{run}";

walk.Section("ScaleOps.Core: start-up, migrations, tenants");
var (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/health"));
walk.Check(status == HttpStatusCode.OK, $"GET /ops/health -> {(int)status} {body.GetProperty("status")}");

(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/migrations", admin: true));
var migrations = status == HttpStatusCode.OK ? body.GetProperty("items").EnumerateArray().ToList() : [];
walk.Check(migrations.Count > 0, $"migrations applied once at start-up under an advisory lock: {migrations.Count} scripts");
foreach (var m in migrations)
{
    walk.Say($"{m.GetProperty("component")}/{m.GetProperty("version")} {m.GetProperty("name")}");
}

(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/migrations"));
walk.Check(status == HttpStatusCode.Unauthorized, $"GET /ops/migrations without X-Admin-Key -> {(int)status}");

(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/tenants", json: new { id = acme, plan = "free" }, admin: true));
walk.Check(status == HttpStatusCode.Created, $"POST /tenants {acme} (free) -> {(int)status}");
(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/tenants", json: new { id = globex, plan = "pro" }, admin: true));
walk.Check(status == HttpStatusCode.Created, $"POST /tenants {globex} (pro) -> {(int)status}");
(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/tenants", json: new { id = acme, plan = "pro" }, admin: true));
walk.Check(status == HttpStatusCode.Conflict, $"POST /tenants {acme} again -> {(int)status}");

(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/documents", tenant: "Not A Slug!"));
walk.Check(status == HttpStatusCode.BadRequest, $"malformed X-Tenant-Id -> {(int)status} problem details: {Detail(body)}");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/documents", tenant: $"nobody-{run}"));
walk.Check(status == HttpStatusCode.Forbidden, $"unregistered tenant -> {(int)status} problem details: {Detail(body)}");

walk.Section("Tenant isolation (ambient tenant from X-Tenant-Id)");
(status, body, var created) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/documents", tenant: acme, json: new { title = "Acme plan", body = "secret" }));
var documentId = status == HttpStatusCode.Created ? body.GetProperty("id").GetString() : null;
walk.Check(documentId is not null, $"{acme}: POST /documents -> {(int)status}, Location {created.Headers.Location}");
(status, _, var firstRead) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: acme));
walk.Check(status == HttpStatusCode.OK, $"{acme}: GET its document -> {(int)status}");
(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: globex));
walk.Check(status == HttpStatusCode.NotFound, $"{globex}: GET {acme}'s document -> {(int)status} (404, never 403)");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/documents", tenant: globex));
walk.Check(status == HttpStatusCode.OK && body.GetProperty("items").GetArrayLength() == 0, $"{globex}: GET /documents -> {(int)status}, sees 0 documents");

walk.Section("Idempotency-Key: a POST /documents retried after a lost reply creates once");
var initech = $"initech-{run}";
(var registered, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/tenants", json: new { id = initech, plan = "pro" }, admin: true));
var retryKey = Guid.NewGuid().ToString();
HttpRequestMessage KeyedPost(object json)
{
    var request = walk.Request(HttpMethod.Post, "/documents", tenant: initech, json: json);
    request.Headers.Add("Idempotency-Key", retryKey);
    return request;
}

(var firstStatus, var firstBody, _) = await walk.SendAsync(KeyedPost(new { title = "Invoice 7", body = "total 42" }));
(var retryStatus, var retryBody, var retried) = await walk.SendAsync(KeyedPost(new { title = "Invoice 7", body = "total 42" }));
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/documents", tenant: initech));
var keyedId = firstStatus == HttpStatusCode.Created ? firstBody.GetProperty("id").GetString() : null;
walk.Check(registered == HttpStatusCode.Created && keyedId is not null && retryStatus == HttpStatusCode.Created && retryBody.GetProperty("id").GetString() == keyedId
        && Header(retried, "Idempotent-Replayed") == "true" && status == HttpStatusCode.OK && body.GetProperty("items").GetArrayLength() == 1,
    $"{initech}: POST /documents twice with Idempotency-Key {retryKey[..8]}... -> {(int)firstStatus} then {(int)retryStatus} with the same id, "
    + $"Idempotent-Replayed: {Header(retried, "Idempotent-Replayed")}; GET /documents lists {(status == HttpStatusCode.OK ? body.GetProperty("items").GetArrayLength() : -1)} (one quota unit)");
(status, body, _) = await walk.SendAsync(KeyedPost(new { title = "Invoice 7", body = "total 43" }));
walk.Check(status == HttpStatusCode.UnprocessableEntity, $"{initech}: the same key with another body -> {(int)status} problem details: {Detail(body)}");

walk.Section("ScaleOps.Jobs: the index job, enqueued in the document's own transaction");
string? indexedAt = null;
for (var attempt = 0; attempt < 100 && indexedAt is null; attempt++)
{
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: acme));
    indexedAt = status == HttpStatusCode.OK && body.GetProperty("indexedAt").ValueKind == JsonValueKind.String ? body.GetProperty("indexedAt").GetString() : null;
    if (indexedAt is null)
    {
        await Task.Delay(100);
    }
}

walk.Check(indexedAt is not null, $"{acme}: the \"index document\" job ran in {acme}'s tenant scope (woken by NOTIFY) and set indexedAt = {indexedAt}");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/documents/reindex", tenant: acme));
var reindexed = status == HttpStatusCode.Accepted ? body.GetProperty("enqueued").GetInt32() : -1;
string? indexedAgain = null;
for (var attempt = 0; attempt < 100 && reindexed == 1 && indexedAgain is null; attempt++)
{
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: acme));
    var value = status == HttpStatusCode.OK && body.GetProperty("indexedAt").ValueKind == JsonValueKind.String ? body.GetProperty("indexedAt").GetString() : null;
    if (value is not null && value != indexedAt)
    {
        indexedAgain = value;
    }
    else
    {
        await Task.Delay(100);
    }
}

walk.Check(indexedAgain is not null,
    $"{acme}: POST /documents/reindex -> 202, {reindexed} low-priority job(s) enqueued in one batch, in the same transaction that cleared indexedAt; indexed again at {indexedAgain}");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/jobs", admin: true));
if (status == HttpStatusCode.OK)
{
    foreach (var queue in body.GetProperty("queues").EnumerateArray())
    {
        walk.Say($"queue {queue.GetProperty("queue")}: succeeded {queue.GetProperty("succeeded")}, available {queue.GetProperty("available")}, dead {queue.GetProperty("dead")}");
    }
}

walk.Section("ScaleOps.Caching: tenant-scoped cache-aside, memory L1 + Redis L2");
(_, _, var second) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: acme));
(_, _, var third0) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: acme));
walk.Check(Header(firstRead, "X-Cache") == "miss" && Header(third0, "X-Cache") == "hit",
    $"{acme}: the first GET /documents/{{id}} above was X-Cache: {Header(firstRead, "X-Cache")}; the same GET now -> X-Cache: {Header(third0, "X-Cache")}");
(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Put, $"/documents/{documentId}", tenant: acme, json: new { title = "Acme plan v2", body = "secret" }));
(_, body, var third) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: acme));
walk.Check(status == HttpStatusCode.OK && Header(third, "X-Cache") == "miss" && body.GetProperty("title").GetString() == "Acme plan v2",
    $"{acme}: PUT invalidates the tenant's cached documents (tag, spread to other instances by pub/sub) -> next GET {Header(third, "X-Cache")}, new title");

// GET /documents/stats: the count is fresh for 4 s with EagerRefreshThreshold 0.5. (globex: no index job of its own is
// pending, whose invalidation of the documents tag would drop the count while the demo watches it.)
(status, body, var counted) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/documents/stats", tenant: globex));
var countedAt = status == HttpStatusCode.OK ? body.GetProperty("countedAt").GetDateTimeOffset() : default;
walk.Check(status == HttpStatusCode.OK && Header(counted, "X-Cache") == "miss",
    $"{globex}: GET /documents/stats -> {(int)status}, X-Cache: {Header(counted, "X-Cache")}, {Prop(body, "documents")} documents counted at {countedAt:HH:mm:ss.fff} (fresh 4 s, eager refresh at half of it)");
var eager = await walk.PollCountAsync(globex, countedAt, TimeSpan.FromSeconds(8));
walk.Check(eager.CountedAgainAt is not null && eager.Misses == 0,
    $"{globex}: {eager.Reads} reads over {eager.Elapsed.TotalSeconds:0.0} s, {eager.Misses} misses: a read after 2 s answered from the cache at once and counted "
    + $"again in the background; a later hit has countedAt {eager.CountedAgainAt:HH:mm:ss.fff}, before the first count expired");

walk.Section("ScaleOps.Partitioning: the audit trail, partitioned by month");
var from = DateTimeOffset.UtcNow.AddHours(-1).ToString("O");
var to = DateTimeOffset.UtcNow.AddHours(1).ToString("O");
var auditUrl = $"/audit?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}";
var events = 0;
for (var attempt = 0; attempt < 50 && events < 2; attempt++)
{
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, auditUrl, tenant: acme));
    events = status == HttpStatusCode.OK ? body.GetProperty("items").GetArrayLength() : 0;
    if (events < 2)
    {
        await Task.Delay(200);
    }
}

walk.Check(events >= 2, $"{acme}: GET /audit (last 2 hours) -> {events} events (document.created, document.updated), written in batches by binary COPY");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, auditUrl, tenant: globex));
walk.Check(status == HttpStatusCode.OK && body.GetProperty("items").GetArrayLength() == 0, $"{globex}: GET /audit -> sees none of {acme}'s events");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/partitions", admin: true));
if (status == HttpStatusCode.OK)
{
    foreach (var table in body.GetProperty("tables").EnumerateArray())
    {
        walk.Say($"{table.GetProperty("table")}: {table.GetProperty("partitions").GetArrayLength()} partitions, healthy: {table.GetProperty("healthy")}, rows in default: {table.GetProperty("defaultPartitionRows")}");
    }
}

walk.Check(status == HttpStatusCode.OK && body.GetProperty("tables").EnumerateArray().All(t => t.GetProperty("healthy").GetBoolean()),
    $"GET /ops/partitions -> {(int)status}: partitions created ahead by maintenance at start-up (one leader by advisory lock)");
var auditPartitions = status == HttpStatusCode.OK
    ? body.GetProperty("tables").EnumerateArray().Where(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"")
        .Select(t => t.GetProperty("partitions").GetArrayLength()).FirstOrDefault()
    : 0;
var thisMonth = new DateTimeOffset(DateTimeOffset.UtcNow.Year, DateTimeOffset.UtcNow.Month, 1, 0, 0, 0, TimeSpan.Zero);
var pruneUrl = $"/ops/audit/partitions?from={Uri.EscapeDataString(thisMonth.ToString("O"))}&to={Uri.EscapeDataString(thisMonth.AddMonths(1).ToString("O"))}";
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, pruneUrl, tenant: acme, admin: true));
var read = status == HttpStatusCode.OK ? body.GetProperty("partitions").EnumerateArray().Select(p => p.GetString()).ToList() : [];
walk.Check(read.Count == 1 && read[0] == $"audit_log_p{thisMonth.Year:D4}_{thisMonth.Month:D2}",
    $"{acme}: GET /audit for {thisMonth:yyyy-MM} reads {read.Count} partition ({string.Join(", ", read)}) of the {auditPartitions} attached (EXPLAIN ANALYZE via GET /ops/audit/partitions)");

walk.Section("ScaleOps.Resilience: plan rate limits shared through Redis, quotas in PostgreSQL, breakers");
var burst = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => walk.SendAsync(walk.Request(HttpMethod.Get, "/documents?limit=1", tenant: acme))));
var rejected = burst.Where(r => r.Status == HttpStatusCode.TooManyRequests).ToList();
var retryAfter = rejected.Count > 0 ? Header(rejected[0].Response, "Retry-After") : "(none)";
walk.Check(rejected.Count > 0 && retryAfter != "(none)",
    $"{acme} (free, 10 requests/s): 30 requests at once -> {burst.Length - rejected.Count} passed, {rejected.Count} got 429 with Retry-After: {retryAfter}");
walk.Say($"every answer carries the budget: RateLimit-Limit {Header(burst.First(r => r.Status == HttpStatusCode.OK).Response, "RateLimit-Limit")}, RateLimit-Remaining, RateLimit-Reset");
await Task.Delay(TimeSpan.FromSeconds(1.2));
var quotaStatus = HttpStatusCode.OK;
JsonElement quotaBody = default;
for (var i = 0; i < 10 && quotaStatus != HttpStatusCode.Forbidden; i++)
{
    (quotaStatus, quotaBody, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/documents", tenant: acme, json: new { title = $"filler {i}", body = "" }));
    if (quotaStatus == HttpStatusCode.TooManyRequests)
    {
        await Task.Delay(TimeSpan.FromSeconds(1));
    }
}

walk.Check(quotaStatus == HttpStatusCode.Forbidden && quotaBody.TryGetProperty("limit", out _),
    $"{acme}: documents beyond the free plan's quota -> {(int)quotaStatus}, limit {Prop(quotaBody, "limit")}, usage {Prop(quotaBody, "usage")} (reserved in the insert's transaction)");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/circuits", admin: true));
walk.Check(status == HttpStatusCode.OK, $"GET /ops/circuits -> {(int)status}: "
    + (status == HttpStatusCode.OK ? string.Join(", ", body.GetProperty("circuits").EnumerateArray().Select(c => $"{c.GetProperty("name")} {c.GetProperty("state")}")) : ""));

walk.Section("ScaleOps.Resilience: the redis breaker while Redis is stopped and after it returns");
var repository = Environment.GetEnvironmentVariable("SCALEOPS_REPO");
if (string.IsNullOrEmpty(repository))
{
    walk.Check(false, "SCALEOPS_REPO is not set, so the demo cannot stop and restart Redis (run it through scripts/demo.sh)");
}
else
{
    var servers = new Servers(repository);
    var redisPort = servers.Port("redis");
    var (breaker, _) = await walk.BreakerAsync("redis");
    walk.Check(breaker == "Closed", $"GET /ops/circuits -> redis {breaker} while Redis answers on 127.0.0.1:{redisPort}");
    var (code, output) = await servers.RunAsync("stop", "redis");
    walk.Check(code == 0, $"scripts/servers.sh stop redis -> exit {code} ({output})");

    // Requests go on; every decision the rate limiter asks of Redis fails until the breaker opens and stops asking.
    var outage = await walk.DriveUntilAsync(globex, "redis", "Open", healthy: null, TimeSpan.FromSeconds(90));
    walk.Check(outage.Reached, $"{globex}: {outage.Sent} requests during the outage, {outage.Answered} answered 200 (limiter on local buckets, "
        + $"cache on memory); redis breaker -> {outage.State}");
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/health"));
    walk.Check(status == HttpStatusCode.OK && Prop(body, "status") == "Degraded",
        $"GET /ops/health -> {(int)status} {Prop(body, "status")} (not Unhealthy): {Checks(body)}");

    (code, output) = await servers.RunAsync("start", "redis");
    var portAfter = servers.Port("redis");
    walk.Check(code == 0 && portAfter == redisPort, $"scripts/servers.sh start redis -> exit {code}, listening on 127.0.0.1:{portAfter} (the same port)");
    var back = await walk.DriveUntilAsync(globex, "redis", "Closed", healthy: true, TimeSpan.FromSeconds(90));
    walk.Check(back.Reached, $"{globex}: {back.Sent} requests after Redis returned; a trial call after the break found it: redis breaker -> {back.State}");
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/health"));
    walk.Check(status == HttpStatusCode.OK && Prop(body, "status") == "Healthy", $"GET /ops/health -> {(int)status} {Prop(body, "status")}: {Checks(body)}");
}

walk.Section("ScaleOps.Partitioning: an old audit partition archived to Blob storage (Azurite)");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/partitions", admin: true));
var oldest = status == HttpStatusCode.OK
    ? body.GetProperty("tables").EnumerateArray().Where(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"")
        .SelectMany(t => t.GetProperty("partitions").EnumerateArray()).Where(p => !p.GetProperty("isDefault").GetBoolean())
        .OrderBy(p => p.GetProperty("from").GetDateTime()).Select(p => (JsonElement?)p).FirstOrDefault()
    : null;
walk.Check(oldest is not null, $"GET /ops/partitions -> {(int)status}: the oldest audit partition is {(oldest is { } o ? o.GetProperty("name").GetString() : "(none)")}");
if (oldest is { } old)
{
    var partition = old.GetProperty("name").GetString()!;
    var monthStart = new DateTimeOffset(old.GetProperty("from").GetDateTime(), TimeSpan.Zero);
    var monthEnd = new DateTimeOffset(old.GetProperty("to").GetDateTime(), TimeSpan.Zero);
    (status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, "/ops/audit/backfill", json: new { tenant = globex, at = monthStart.AddDays(2), count = 5 }, admin: true));
    walk.Check(status == HttpStatusCode.Created, $"POST /ops/audit/backfill (demo-only) -> {(int)status}: 5 {globex} events dated {monthStart.AddDays(2):yyyy-MM-dd}, in {partition}");
    var oldAudit = $"/audit?from={Uri.EscapeDataString(monthStart.ToString("O"))}&to={Uri.EscapeDataString(monthEnd.ToString("O"))}";
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, oldAudit, tenant: globex));
    var before = status == HttpStatusCode.OK ? body.GetProperty("items").GetArrayLength() : -1;
    walk.Check(before == 5, $"{globex}: GET /audit for {monthStart:yyyy-MM} -> {before} events");

    var archivePath = $"/ops/partitions/scaleops/audit_log/{partition}/archive";
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, archivePath, admin: true));
    walk.Check(status == HttpStatusCode.OK && Prop(body, "rows") == "5",
        $"POST {archivePath} -> {(int)status}: {Prop(body, "rows")} rows exported to Parquet, uploaded, read back and verified (row checksum {Short(Prop(body, "rowChecksum"))}), then the partition dropped");
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, archivePath, admin: true));
    walk.Check(status == HttpStatusCode.OK && Prop(body, "rows") == "5",
        $"GET {archivePath} -> {(int)status}: manifest read from Blob storage, blob {Prop(body, "blob")}, {Prop(body, "rows")} rows, archived at {Prop(body, "archivedAt")}");
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/partitions", admin: true));
    var stillThere = status == HttpStatusCode.OK && body.GetProperty("tables").EnumerateArray()
        .SelectMany(t => t.GetProperty("partitions").EnumerateArray()).Any(p => p.GetProperty("name").GetString() == partition);
    walk.Check(status == HttpStatusCode.OK && !stillThere, $"GET /ops/partitions -> {(int)status}: {partition} is {(stillThere ? "still attached" : "gone from PostgreSQL")}");
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, oldAudit, tenant: globex));
    var afterArchive = status == HttpStatusCode.OK ? body.GetProperty("items").GetArrayLength() : -1;
    walk.Check(afterArchive == 0, $"{globex}: GET /audit for {monthStart:yyyy-MM} -> {afterArchive} events (they live in the archive now)");

    var restorePath = $"/ops/partitions/scaleops/audit_log/{partition}/restore";
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Post, restorePath, admin: true));
    walk.Check(status == HttpStatusCode.OK && Prop(body, "rows") == "5",
        $"POST {restorePath} -> {(int)status}: {Prop(body, "rows")} rows read back from Parquet, checked against the manifest, attached again with the partition's bounds");
    (status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, oldAudit, tenant: globex));
    var afterRestore = status == HttpStatusCode.OK ? body.GetProperty("items").GetArrayLength() : -1;
    (_, var acmeBody, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, oldAudit, tenant: acme));
    var acmeSees = acmeBody.ValueKind == JsonValueKind.Object ? acmeBody.GetProperty("items").GetArrayLength() : -1;
    walk.Check(afterRestore == 5 && acmeSees == 0,
        $"{globex}: GET /audit for {monthStart:yyyy-MM} -> {afterRestore} events again; {acme} sees {acmeSees} of them");
}

walk.Section("ScaleOps.Rls: row-level security under the app-level filter");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/ops/rls", admin: true));
walk.Check(status == HttpStatusCode.OK && body.GetProperty("clean").GetBoolean(),
    $"GET /ops/rls -> {(int)status}: schema app audited, unprotected tenant tables: {(status == HttpStatusCode.OK ? body.GetProperty("unprotectedTables").GetArrayLength() : -1)}, leaking views: {(status == HttpStatusCode.OK ? body.GetProperty("leakingViews").GetArrayLength() : -1)}");
walk.Say("app.documents: ENABLE + FORCE ROW LEVEL SECURITY, policy tenant_id = nullif(current_setting('app.tenant_id', true), '')");
walk.Say("every query carries the tenant in the same round trip (CALL scaleops.rls_set_context(...) then the statement)");
walk.Say("the host connects as a NOSUPERUSER NOBYPASSRLS role: the start-up safety check refuses anything else");
var demoPostgres = Environment.GetEnvironmentVariable("SCALEOPS_DEMO_POSTGRES");
if (string.IsNullOrEmpty(repository) || string.IsNullOrEmpty(demoPostgres))
{
    walk.Check(false, "SCALEOPS_REPO or SCALEOPS_DEMO_POSTGRES is not set, so the demo cannot start a second host (run it through scripts/demo.sh)");
}
else
{
    // A tenant as a session default would make every statement sent without the tenant context run as that tenant.
    var refused = await RefusedStart.RunAsync(repository, new Dictionary<string, string>
    {
        ["ConnectionStrings__Postgres"] = $"{demoPostgres};Options=-c app.tenant_id={acme}",
        ["ConnectionStrings__Redis"] = Environment.GetEnvironmentVariable("SCALEOPS_REDIS") ?? "",
        ["Sample__AdminKey"] = args[1],
        ["Sample__RunJobs"] = "false",
        ["Sample__RunPartitionMaintenance"] = "false",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
    }, TimeSpan.FromSeconds(60));
    var reason = RefusedStart.LineWith(refused.Output, "sessions start with app.tenant_id");
    var remedy = reason is null ? null : RefusedStart.LineWith(reason, "Remove it: ");
    walk.Check(refused.ExitCode is { } code && code != 0 && reason is not null,
        $"a second host whose connection string sets Options=-c app.tenant_id={acme} -> "
        + (refused.ExitCode is { } exit ? $"refused to start (exit {exit}): \"{Clause(reason ?? "(no reason in its output)")} ...\"" : "started (killed after 60 s)"));
    if (remedy is not null)
    {
        walk.Say($"(a statement sent without the tenant context would run as {acme} instead of seeing no row) \"{Clause(remedy)} ...\"");
    }
}

walk.Section("Metrics");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/metrics"));
walk.Check(status == HttpStatusCode.OK, $"GET /metrics -> {(int)status} (Prometheus text from the ScaleOps meter)");

Console.WriteLine();
if (walk.Failures > 0)
{
    walk.PrintFailures();
    Console.WriteLine($"Demo FAILED: {walk.Failures} of {walk.Steps} step(s) did not behave.");
    return 1;
}

Console.WriteLine($"Demo passed: every step behaved ({walk.Steps} steps in {walk.Elapsed.TotalSeconds:0} s).");
return 0;

static string Header(HttpResponseMessage response, string name) =>
    response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "(none)";

static string Prop(JsonElement body, string name) =>
    body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) ? value.ToString() : "?";

static string Checks(JsonElement body) =>
    body.ValueKind == JsonValueKind.Object && body.TryGetProperty("checks", out var checks)
        ? string.Join(", ", checks.EnumerateObject().Select(c => $"{c.Name} {c.Value.GetProperty("status").GetString()}"))
        : "?";

static string Clause(string text) => text.IndexOf(" (", StringComparison.Ordinal) is var end and > 0 ? text[..end] : text;

static string Short(string text) => text.Length > 12 ? text[..12] + "..." : text;

static string Detail(JsonElement body) =>
    body.ValueKind == JsonValueKind.Object && body.TryGetProperty("detail", out var detail) ? detail.GetString() ?? "" : body.ToString();
