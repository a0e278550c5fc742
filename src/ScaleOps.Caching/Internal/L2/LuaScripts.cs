using System.IO;
using System.Reflection;

namespace ScaleOps.Caching.Internal.L2;

/// <summary>The embedded Lua scripts (<c>Lua/*.lua</c>), loaded once.</summary>
internal static class LuaScripts
{
    public static readonly string SetTagged = Load("set_tagged");
    public static readonly string RemoveByTag = Load("remove_by_tag");
    public static readonly string ReleaseLock = Load("release_lock");
    public static readonly string Generation = Load("generation");

    private static string Load(string name)
    {
        var resource = $"ScaleOps.Caching.Lua.{name}.lua";
        using var stream = typeof(LuaScripts).Assembly.GetManifestResourceStream(resource)
            ?? throw new FileNotFoundException($"Embedded script {resource} is missing from {Assembly.GetExecutingAssembly().GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
