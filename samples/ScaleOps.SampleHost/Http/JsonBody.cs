using System;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;

namespace ScaleOps.SampleHost.Http;

/// <summary>Reads a JSON request body with explicit limits, so bad input is a 400 or 413 problem, never a 500.</summary>
public static class JsonBody
{
    /// <summary>The largest request body the sample reads (a 64 KiB document body plus JSON escaping).</summary>
    public const int MaxBytes = 512 * 1024;

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { AllowTrailingCommas = false };

    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > MaxBytes)
        {
            return (null, Problems.TooLarge($"The request body is {request.ContentLength} bytes; the limit is {MaxBytes}."));
        }

        if (!request.HasJsonContentType())
        {
            return (null, Problems.BadRequest("The request body must be JSON (Content-Type: application/json)."));
        }

        try
        {
            var value = await JsonSerializer.DeserializeAsync<T>(request.Body, Options, request.HttpContext.RequestAborted);
            return value is null ? (null, Problems.BadRequest("The request body is empty or null.")) : (value, null);
        }
        catch (JsonException ex)
        {
            return (null, Problems.BadRequest($"The request body is not valid JSON for this endpoint: {ex.Message}"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, Problems.TooLarge($"The request body is over the limit of {MaxBytes} bytes."));
        }
    }
}
