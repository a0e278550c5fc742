namespace ScaleOps.Readme.Tests.Snippets;

internal static class CoreSnippets
{
    public static void Register(WebApplicationBuilder builder)
    {
        #region readme src/ScaleOps.Core/README.md 1
        builder.Services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1;Username=app;Database=app");
        #endregion
    }
}
