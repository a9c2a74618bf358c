namespace Echo.Web.Tests;

/// <summary>
/// Hostile chat content: HTML and script injection, <c>javascript:</c> URLs, SVG, Markdown and
/// template tricks, entity and Unicode games, each also wrapped in other contexts, so that there are
/// as many distinct payloads as asked for. Every one tries to set <c>window.__xss</c> or open a dialog.
/// </summary>
internal static class XssPayloads
{
    private static readonly string[] Cores =
    [
        "<script>window.__xss=1</script>",
        "<img src=x onerror=\"window.__xss=1\">",
        "<img src=x onerror=alert(1)>",
        "<svg onload=window.__xss=1>",
        "<svg><script>window.__xss=1</script></svg>",
        "<svg><animate onbegin=window.__xss=1 attributeName=x dur=1s>",
        "<iframe src=\"javascript:window.parent.__xss=1\"></iframe>",
        "<iframe srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
        "<a href=\"javascript:window.__xss=1\">click</a>",
        "javascript:window.__xss=1",
        "<body onload=window.__xss=1>",
        "<details open ontoggle=window.__xss=1>",
        "<input autofocus onfocus=window.__xss=1>",
        "<video><source onerror=window.__xss=1></video>",
        "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
        "<object data=\"javascript:window.__xss=1\"></object>",
        "<embed src=\"javascript:window.__xss=1\">",
        "<style>@import 'javascript:window.__xss=1';</style>",
        "<link rel=stylesheet href=\"javascript:window.__xss=1\">",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__xss=1\">",
        "<base href=\"javascript:window.__xss=1//\">",
        "<form action=\"javascript:window.__xss=1\"><button>x</button></form>",
        "\"><script>window.__xss=1</script>",
        "'><img src=x onerror=window.__xss=1>",
        "</textarea><script>window.__xss=1</script>",
        "</title><script>window.__xss=1</script>",
        "<!--<img src=\"--><img src=x onerror=window.__xss=1//\">",
        "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
        "&lt;script&gt;window.__xss=1&lt;/script&gt;",
        "&#60;img src=x onerror=window.__xss=1&#62;",
        "\\u003cimg src=x onerror=window.__xss=1\\u003e",
        "[click](javascript:window.__xss=1)",
        "![x](x\" onerror=\"window.__xss=1)",
        "<https://example.com/\" onmouseover=\"window.__xss=1>",
        "**bold** _it_ `<img src=x onerror=window.__xss=1>`",
        "{{constructor.constructor('window.__xss=1')()}}",
        "${window.__xss=1}",
        "<div style=\"background:url(javascript:window.__xss=1)\">",
        "<svg><a xlink:href=\"javascript:window.__xss=1\"><text x=20 y=20>x</text></a></svg>",
        "data:text/html,<script>window.__xss=1</script>",
        "<marquee onstart=window.__xss=1>",
        "<select autofocus onfocus=window.__xss=1>",
        "<keygen autofocus onfocus=window.__xss=1>",
        "<isindex type=image src=1 onerror=window.__xss=1>",
        "\u202e<img src=x onerror=window.__xss=1>\u202c",
        "＜script＞window.__xss=1＜/script＞",
        "<img src=x onerror=&#x77;&#x69;&#x6e;&#x64;&#x6f;&#x77;.__xss=1>",
        "<template><img src=x onerror=window.__xss=1></template>",
        "<noscript><p title=\"</noscript><img src=x onerror=window.__xss=1>\">",
        "<xmp><img src=x onerror=window.__xss=1></xmp>",
    ];

    private static readonly string[] Wrappers =
    [
        "{0}",
        "hello {0}",
        "{0} world",
        "<b>{0}</b>",
        "`{0}`",
        "```\n{0}\n```",
        "> {0}",
        "line one\n{0}\nline three",
        "\"{0}\"",
        "'{0}'",
        "<p>{0}</p>",
        "<!-- {0} -->",
        "<![CDATA[{0}]]>",
        "{0}{0}",
        "  {0}  ",
        "📎 {0} 🎉",
        "<a href=\"#\">{0}</a>",
        "<svg>{0}</svg>",
        "%3C{0}%3E",
        "\t{0}",
        "<textarea>{0}</textarea>",
        "<table><tr><td>{0}</td></tr></table>",
        "@alice {0}",
        "# {0}",
        "<div class=\"messages\">{0}</div>",
    ];

    /// <summary>The first <paramref name="count"/> distinct payloads.</summary>
    public static IReadOnlyList<string> Generate(int count)
    {
        List<string> payloads = [];
        HashSet<string> seen = new(StringComparer.Ordinal);
        foreach (string wrapper in Wrappers)
        {
            foreach (string core in Cores)
            {
                string payload = wrapper.Replace("{0}", core);
                if (seen.Add(payload))
                    payloads.Add(payload);
                if (payloads.Count == count)
                    return payloads;
            }
        }
        throw new InvalidOperationException($"only {payloads.Count} distinct payloads; add cores or wrappers");
    }
}
