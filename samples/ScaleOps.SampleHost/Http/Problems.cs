using System.Collections.Generic;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace ScaleOps.SampleHost.Http;

/// <summary>
/// RFC 9457 problem details for every error the sample returns. A problem's <c>type</c> and <c>title</c> are those of its
/// status, whoever answers (an endpoint, a filter, routing's 404 and 405, the exception handler): <see cref="Standardize"/>
/// sets them on every problem written, so a client can rely on them; what this occurrence is about goes in <c>detail</c>.
/// </summary>
public static class Problems
{
    /// <summary>The type and title of each status the sample answers (RFC 9110's names and sections; 429 is RFC 6585's).</summary>
    private static readonly Dictionary<int, (string Type, string Title)> Kinds = new()
    {
        [StatusCodes.Status400BadRequest] = ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "Bad Request"),
        [StatusCodes.Status401Unauthorized] = ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
        [StatusCodes.Status403Forbidden] = ("https://tools.ietf.org/html/rfc9110#section-15.5.4", "Forbidden"),
        [StatusCodes.Status404NotFound] = ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
        [StatusCodes.Status405MethodNotAllowed] = ("https://tools.ietf.org/html/rfc9110#section-15.5.6", "Method Not Allowed"),
        [StatusCodes.Status408RequestTimeout] = ("https://tools.ietf.org/html/rfc9110#section-15.5.9", "Request Timeout"),
        [StatusCodes.Status409Conflict] = ("https://tools.ietf.org/html/rfc9110#section-15.5.10", "Conflict"),
        [StatusCodes.Status413PayloadTooLarge] = ("https://tools.ietf.org/html/rfc9110#section-15.5.14", "Content Too Large"),
        [StatusCodes.Status415UnsupportedMediaType] = ("https://tools.ietf.org/html/rfc9110#section-15.5.16", "Unsupported Media Type"),
        [StatusCodes.Status422UnprocessableEntity] = ("https://tools.ietf.org/html/rfc9110#section-15.5.21", "Unprocessable Content"),
        [StatusCodes.Status429TooManyRequests] = ("https://tools.ietf.org/html/rfc6585#section-4", "Too Many Requests"),
        [StatusCodes.Status500InternalServerError] = ("https://tools.ietf.org/html/rfc9110#section-15.6.1", "Internal Server Error"),
        [StatusCodes.Status503ServiceUnavailable] = ("https://tools.ietf.org/html/rfc9110#section-15.6.4", "Service Unavailable"),
    };

    /// <summary>
    /// <c>AddProblemDetails(o =&gt; o.CustomizeProblemDetails = Problems.Standardize)</c>: the status's type and title on
    /// every problem; for an exception nobody handled (a 5xx of the exception handler), a detail that quotes nothing of
    /// it (its message can hold SQL, names, a connection's address) and points to the log, where the handler wrote it
    /// under the same trace id.
    /// </summary>
    public static void Standardize(ProblemDetailsContext context)
    {
        System.ArgumentNullException.ThrowIfNull(context);
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        (problem.Type, problem.Title) = Kinds.TryGetValue(status, out var kind) ? kind : ("about:blank", ReasonPhrases.GetReasonPhrase(status));
        if (context.Exception is not null && status >= StatusCodes.Status500InternalServerError)
        {
            problem.Detail = "An unexpected error; the host's log has it (under this response's traceId).";
            problem.Extensions.Remove("exception");
        }
    }

    public static ProblemHttpResult BadRequest(string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, extensions: extensions);

    public static ProblemHttpResult Unauthorized(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status401Unauthorized);

    public static ProblemHttpResult Forbidden(string detail, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status403Forbidden, extensions: extensions);

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound);

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict);

    public static ProblemHttpResult TooLarge(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status413PayloadTooLarge);

    /// <summary>A request body the server stopped reading, with the server's status (400 or 408).</summary>
    public static ProblemHttpResult BodyUnreadable(int status, string detail) =>
        TypedResults.Problem(detail, statusCode: status);

    public static ProblemHttpResult UnsupportedMediaType(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status415UnsupportedMediaType);

    public static ProblemHttpResult UnprocessableContent(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status422UnprocessableEntity);

    public static ProblemHttpResult TooMany(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status429TooManyRequests);

    public static ProblemHttpResult InternalError(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status500InternalServerError);

    public static ProblemHttpResult Unavailable(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable);
}
