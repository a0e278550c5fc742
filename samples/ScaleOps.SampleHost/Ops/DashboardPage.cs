using System;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace ScaleOps.SampleHost.Ops;

/// <summary>
/// The dashboard page (an embedded resource) and its Content-Security-Policy: only the page's own inline script and style
/// (by SHA-256), fetches to this origin only, no framing, no plugins, no form posts, no base URL. Should a value from a
/// tenant ever reach the page as markup, the browser would still run none of it.
/// </summary>
internal static class DashboardPage
{
    private static readonly Lazy<(string Html, string Policy)> Page = new(Load);

    public static string Html => Page.Value.Html;

    public static string ContentSecurityPolicy => Page.Value.Policy;

    private static (string, string) Load()
    {
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream("ScaleOps.SampleHost.Ops.Dashboard.dashboard.html")!;
        using var reader = new System.IO.StreamReader(stream);
        var html = reader.ReadToEnd();
        var policy = $"default-src 'none'; script-src {Hash(html, "script")}; style-src {Hash(html, "style")}; connect-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        return (html, policy);
    }

    /// <summary>The CSP source of the page's one inline element of that tag (its exact text, as the browser hashes it).</summary>
    private static string Hash(string html, string tag)
    {
        var matches = Regex.Matches(html, $"<{tag}>(.*?)</{tag}>", RegexOptions.Singleline);
        if (matches.Count != 1)
        {
            throw new InvalidOperationException($"The dashboard page must have exactly one <{tag}> element; it has {matches.Count}.");
        }

        return "'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(matches[0].Groups[1].Value))) + "'";
    }
}
