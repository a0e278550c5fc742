using System;
using System.Linq;
using System.Net;
using System.Net.Http;
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
(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: acme));
walk.Check(status == HttpStatusCode.OK, $"{acme}: GET its document -> {(int)status}");
(status, _, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, $"/documents/{documentId}", tenant: globex));
walk.Check(status == HttpStatusCode.NotFound, $"{globex}: GET {acme}'s document -> {(int)status} (404, never 403)");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/documents", tenant: globex));
walk.Check(status == HttpStatusCode.OK && body.GetProperty("items").GetArrayLength() == 0, $"{globex}: GET /documents -> {(int)status}, sees 0 documents");

walk.Section("Metrics");
(status, body, _) = await walk.SendAsync(walk.Request(HttpMethod.Get, "/metrics"));
walk.Check(status == HttpStatusCode.OK, $"GET /metrics -> {(int)status} (Prometheus text from the ScaleOps meter)");

Console.WriteLine();
if (walk.Failures > 0)
{
    walk.PrintFailures();
    Console.WriteLine($"Demo FAILED: {walk.Failures} step(s) did not behave.");
    return 1;
}

Console.WriteLine("Demo passed: every step behaved.");
return 0;

static string Detail(JsonElement body) =>
    body.ValueKind == JsonValueKind.Object && body.TryGetProperty("detail", out var detail) ? detail.GetString() ?? "" : body.ToString();
