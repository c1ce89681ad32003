package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/quirehq/quire/sync"
)

// indexPage is a placeholder until the editor page exists: it lists the
// documents with links to their exports, and answers 200 so that a load
// balancer probing / sees a live server.
var indexPage = template.Must(template.New("index").Funcs(template.FuncMap{
	"seg": func(name string) string { return strings.ReplaceAll(url.PathEscape(name), "/", "%2F") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>quire</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd}
code{background:#f4f4f4;padding:0 .25rem}</style></head>
<body><h1>quire</h1>
<p>A collaborative document server that speaks Yjs. Connect a y-websocket provider to
<code>ws://{{.Host}}/ws</code> with a room name; the editor page comes later.</p>
{{if .Docs}}<table><tr><th>document</th><th>size</th><th>updated</th><th>peers</th><th>export</th></tr>
{{range .Docs}}<tr><td>{{.Name}}</td><td>{{.Bytes}}</td><td>{{if not .Updated.IsZero}}{{.Updated.Format "2006-01-02 15:04:05"}}{{end}}</td><td>{{.Peers}}</td>
<td>{{$n := seg .Name}}<a href="/api/v1/docs/{{$n}}/export?format=text">text</a>
<a href="/api/v1/docs/{{$n}}/export?format=markdown">markdown</a>
<a href="/api/v1/docs/{{$n}}/export?format=html">html</a>
<a href="/api/v1/docs/{{$n}}/export?format=json">json</a></td></tr>
{{end}}</table>{{else}}<p>No documents yet.</p>{{end}}
</body></html>
`))

func (s *Server) index(c *gin.Context) {
	docs, err := s.hub.List(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusOK)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := indexPage.Execute(c.Writer, struct {
		Host string
		Docs []sync.DocInfo
	}{c.Request.Host, docs}); err != nil {
		s.log.Error().Err(err).Msg("index page")
	}
}
