namespace Echo.Core.Chat;

/// <summary>Sizes and rates in words for the user.</summary>
public static class SizeText
{
    /// <summary>"1.5 MiB" and the like.</summary>
    public static string Format(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        int unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes:0} B" : $"{bytes:0.0} {units[unit]}";
    }
}
