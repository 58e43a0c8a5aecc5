package server

import (
	_ "embed"
	"html"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
)

// apiDoc is docs/api.md, copied here by go generate because embed cannot
// reach outside the package; TestDocs_InSync fails when the copy is stale.
//
//go:generate cp ../docs/api.md api.md
//go:embed api.md
var apiDoc string

// docs serves /docs: docs/api.md rendered as a plain, readable HTML page.
func (s *Server) docs(c echo.Context) error {
	return c.HTML(http.StatusOK, renderMarkdown(apiDoc))
}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	boldText   = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	linkText   = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
)

// inline renders code spans, bold and links in escaped text.
func inline(s string) string {
	s = html.EscapeString(s)
	s = inlineCode.ReplaceAllString(s, "<code>$1</code>")
	s = boldText.ReplaceAllString(s, "<strong>$1</strong>")
	return linkText.ReplaceAllString(s, `<a href="$2">$1</a>`)
}

// renderMarkdown renders the small Markdown subset docs/api.md uses:
// headings, paragraphs, fenced code, bullet lists and pipe tables. A full
// Markdown library is not worth a dependency for one page.
func renderMarkdown(md string) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>sprint API</title><style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}
code,pre{font-family:ui-monospace,monospace;background:#f4f4f4}pre{padding:.75rem;overflow-x:auto}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
</style></head><body>
`)
	lines := strings.Split(md, "\n")
	var para []string
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			flush()
			b.WriteString("<pre><code>")
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				b.WriteString(html.EscapeString(lines[i]) + "\n")
			}
			b.WriteString("</code></pre>\n")
		case strings.HasPrefix(trimmed, "#"):
			flush()
			level := len(trimmed) - len(strings.TrimLeft(trimmed, "#"))
			level = min(level, 6)
			tag := string(rune('0' + level))
			b.WriteString("<h" + tag + ">" + inline(strings.TrimSpace(trimmed[level:])) + "</h" + tag + ">\n")
		case strings.HasPrefix(trimmed, "- "):
			flush()
			b.WriteString("<ul>\n")
			var item []string
			endItem := func() {
				if len(item) > 0 {
					b.WriteString("<li>" + inline(strings.Join(item, " ")) + "</li>\n")
					item = nil
				}
			}
			for ; i < len(lines); i++ {
				l := lines[i]
				t := strings.TrimSpace(l)
				if strings.HasPrefix(t, "- ") {
					endItem()
					item = append(item, t[2:])
					continue
				}
				// An indented line continues the item.
				if t != "" && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
					item = append(item, t)
					continue
				}
				break
			}
			endItem()
			i--
			b.WriteString("</ul>\n")
		case strings.HasPrefix(trimmed, "|"):
			flush()
			b.WriteString("<table>\n")
			row := 0
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				cells := strings.Split(strings.Trim(strings.TrimSpace(lines[i]), "|"), "|")
				if row == 1 && strings.Trim(strings.Join(cells, ""), "-: ") == "" {
					row++
					continue
				}
				cell := "td"
				if row == 0 {
					cell = "th"
				}
				b.WriteString("<tr>")
				for _, c := range cells {
					b.WriteString("<" + cell + ">" + inline(strings.TrimSpace(c)) + "</" + cell + ">")
				}
				b.WriteString("</tr>\n")
				row++
			}
			i--
			b.WriteString("</table>\n")
		case trimmed == "":
			flush()
		default:
			para = append(para, trimmed)
		}
	}
	flush()
	b.WriteString("</body></html>\n")
	return b.String()
}
