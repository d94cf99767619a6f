package server

import (
	"bytes"
	"html/template"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// statusTemplate is the operator's page: one table, no script, every value
// escaped by html/template.
var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>exportd</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.failing, .lost { color: #b00; font-weight: bold; }
.paused { color: #a60; }
.running { color: #06a; }
small { color: #666; }
</style>
</head>
<body>
<h1>exportd</h1>
<p><small>version {{.Version}} · {{.Now}} · times in UTC · JSON at <a href="/api/v1/schedules">/api/v1/schedules</a>, <a href="/api/v1/runs">/api/v1/runs</a>, <a href="/metrics">/metrics</a></small></p>
{{if .Schedules}}
<table>
<thead><tr>
<th>schedule</th><th>cron</th><th>timezone</th><th>kind</th><th>status</th><th>next fire</th>
<th>last run</th><th>freshness</th><th>lost windows</th><th>failures in a row</th>
</tr></thead>
<tbody>
{{range .Schedules}}<tr>
<td><b>{{.Name}}</b>{{with .Description}}<br><small>{{.}}</small>{{end}}</td>
<td><code>{{.Cron}}</code></td>
<td>{{.Timezone}}</td>
<td>{{if .Windowed}}windows{{else}}snapshots{{end}}</td>
<td class="{{.Status}}">{{.Status}}</td>
<td>{{when .NextFire}}</td>
<td>{{with .LastRun}}{{.Outcome}} <small>{{when .Started}}{{with .Trigger}} · {{.}}{{end}}{{if .Rows}} · {{.Rows}} rows{{end}}</small>{{else}}—{{end}}</td>
<td>{{when .Freshness}}</td>
<td{{if .LostWindows}} class="lost"{{end}}>{{.LostWindows}}</td>
<td>{{.ConsecutiveFailures}}</td>
</tr>
{{end}}</tbody>
</table>
{{else}}
<p>No schedules are configured.</p>
{{end}}
</body>
</html>
`))

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	var all []ScheduleStatus
	for _, st := range s.trigger.Schedules(r.Context()) {
		all = append(all, present(st, trusted(r)))
	}
	version := s.opts.Version
	if version == "" {
		version = "unknown"
	}
	var buf bytes.Buffer
	err := statusTemplate.Execute(&buf, struct {
		Version   string
		Now       string
		Schedules []ScheduleStatus
	}{version, time.Now().UTC().Format(time.RFC3339), all})
	if err != nil {
		id := requestID(r)
		s.log.Error("render status page", zap.String("request_id", id), zap.Error(err))
		s.writeError(w, r, http.StatusInternalServerError, codeInternal, internalMessage(id))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	_, _ = buf.WriteTo(w)
}
