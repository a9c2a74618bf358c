using System.Reflection;

namespace Echo.Web;

/// <summary>The page's files, embedded in this assembly (wwwroot/), read once.</summary>
internal sealed class StaticAssets
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    private readonly Dictionary<string, (byte[] Body, string ContentType)> _files = new(StringComparer.Ordinal);

    public StaticAssets()
    {
        Assembly assembly = typeof(StaticAssets).Assembly;
        const string prefix = "wwwroot/";
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using MemoryStream copy = new();
            stream.CopyTo(copy);
            string path = "/" + name[prefix.Length..];
            _files[path] = (copy.ToArray(), ContentTypes.GetValueOrDefault(Path.GetExtension(path), "application/octet-stream"));
        }
        if (!_files.ContainsKey("/index.html"))
            throw new InvalidOperationException("the page is not embedded in Echo.Web");
    }

    /// <summary>The file served at <paramref name="path"/> ("/" is index.html).</summary>
    public bool TryGet(string path, out byte[] body, out string contentType)
    {
        if (_files.TryGetValue(path == "/" ? "/index.html" : path, out (byte[] Body, string ContentType) file))
        {
            (body, contentType) = file;
            return true;
        }
        (body, contentType) = ([], "");
        return false;
    }
}
