package server

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Timeline colours per window state; the legend uses the same.
var windowColors = map[string]string{
	WindowArchived: "#2e7d32",
	WindowSkipped:  "#9e9e9e",
	WindowLost:     "#6d1b1b",
	WindowMissing:  "#ef6c00",
	WindowRunning:  "#1565c0",
}

// windowStates is the legend's order.
var windowStates = []string{WindowArchived, WindowSkipped, WindowLost, WindowMissing, WindowRunning}

// timelineSVG draws windows (oldest first) as one row of cells, each with
// a tooltip, and the first and last window's dates under it. Every value
// in it is escaped: it goes into the page as trusted HTML.
func timelineSVG(ws []WindowStatus) template.HTML {
	if len(ws) == 0 {
		return ""
	}
	// Cells fill about 900 pixels, at least 6 and at most 24 wide each.
	const gap, height, pad = 2, 28, 16
	cell := min(24, max(6, 900/len(ws)-gap))
	width := len(ws)*(cell+gap) - gap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" class="timeline" width="%d" height="%d" viewBox="0 0 %d %d">`,
		width, height+pad, width, height+pad)
	fmt.Fprintf(&b, `<title>last %d windows, oldest on the left</title>`, len(ws))
	for i, w := range ws {
		color := windowColors[w.State]
		if color == "" {
			color = "#000"
		}
		title := w.ID + ": " + w.State
		if w.Key != "" {
			title += " — " + w.Key
		}
		fmt.Fprintf(&b, `<rect x="%d" y="0" width="%d" height="%d" rx="1" fill="%s" data-window="%s" data-state="%s"><title>%s</title></rect>`,
			i*(cell+gap), cell, height, color, template.HTMLEscapeString(w.ID), template.HTMLEscapeString(w.State), template.HTMLEscapeString(title))
	}
	first, last := ws[0].Window.Start.UTC().Format("2006-01-02"), ws[len(ws)-1].Window.End.UTC().Format("2006-01-02 15:04Z")
	fmt.Fprintf(&b, `<text x="0" y="%d" font-size="11" fill="#555">%s</text>`, height+pad-3, template.HTMLEscapeString(first))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555" text-anchor="end">%s</text>`, width, height+pad-3, template.HTMLEscapeString(last))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built above with every value escaped
}

// buttonsView is what the Run now, pause and resume buttons need.
type buttonsView struct {
	SignedIn bool
	CSRF     string
	S        scheduleRow
	Back     string
}

var pageTemplates = template.Must(template.New("pages").Funcs(template.FuncMap{
	"when":  when,
	"color": func(state string) string { return windowColors[state] },
	"states": func() []string {
		return windowStates
	},
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"isZero": func(t time.Time) bool { return t.IsZero() },
	"buttonsFor": func(signedIn bool, csrf string, row scheduleRow, back string) buttonsView {
		return buttonsView{SignedIn: signedIn, CSRF: csrf, S: row, Back: back}
	},
}).Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="5">{{end}}
<title>{{block "title" .}}exportd{{end}}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em 2em; color: #222; }
header { display: flex; align-items: baseline; gap: 1em; border-bottom: 1px solid #ddd; margin-bottom: 1em; }
header h1 { margin: 0 0 .3em 0; font-size: 1.4em; }
header h1 a { color: inherit; text-decoration: none; }
header .who { margin-left: auto; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f5f5f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; }
.state { font-weight: 600; }
.state-ok { color: #2e7d32; } .state-failing { color: #b00020; } .state-paused { color: #a15c00; } .state-running { color: #1565c0; }
.bad { color: #b00020; font-weight: 600; }
.flash { background: #e8f5e9; border: 1px solid #a5d6a7; padding: .5em .8em; margin: 0 0 1em 0; }
.error { background: #fdecea; border: 1px solid #f5a9a9; padding: .5em .8em; margin: 0 0 1em 0; }
form.inline { display: inline; margin: 0; }
button { font: inherit; padding: .15em .7em; cursor: pointer; }
small, .muted { color: #666; }
.legend span { display: inline-block; margin-right: 1em; }
.legend i { display: inline-block; width: .9em; height: .9em; margin-right: .3em; vertical-align: -0.1em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { color: #666; } dd { margin: 0; }
</style>
</head>
<body>
<header><h1><a href="/">exportd</a></h1><small>version {{.Version}} · {{when .Now}} · times in UTC</small>
<span class="who">{{if .CanSignOut}}<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">Sign out</button></form>{{else if not .SignedIn}}<a href="/login">Sign in</a>{{end}}</span>
</header>
{{with .NotReady}}<p class="error" role="alert">Not ready: {{.}}</p>{{end}}
{{with .Flash}}<p class="flash" role="status">{{.}}</p>{{end}}
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
{{end}}

{{define "foot"}}<p><small>JSON: <a href="/api/v1/schedules">/api/v1/schedules</a> · <a href="/api/v1/runs">/api/v1/runs</a> · <a href="/metrics">/metrics</a></small></p>
</body>
</html>
{{end}}

{{define "buttons"}}{{if and $.SignedIn $.CSRF}}
<form class="inline" method="post" action="/schedules/{{.S.Name}}/run"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit" name="action" value="run">Run now</button></form>
{{if .S.Paused}}<form class="inline" method="post" action="/schedules/{{.S.Name}}/resume"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="back" value="{{.Back}}"><button type="submit" name="action" value="resume">Resume</button></form>
{{else}}<form class="inline" method="post" action="/schedules/{{.S.Name}}/pause"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="back" value="{{.Back}}"><button type="submit" name="action" value="pause">Pause</button></form>{{end}}
{{end}}{{end}}

{{define "overview"}}{{template "head" .}}
{{if .Schedules}}
<table id="schedules">
<thead><tr>
<th>schedule</th><th>cron</th><th>time zone</th><th>next fire</th><th>last run</th><th>state</th>
<th>freshness</th><th>lost</th><th>missing<br><small>last 90</small></th>{{if and .SignedIn .CSRF}}<th>actions</th>{{end}}
</tr></thead>
<tbody>
{{range .Schedules}}<tr data-schedule="{{.Name}}">
<td><a href="/schedules/{{.Name}}"><b>{{.Name}}</b></a>{{with .Description}}<br><small>{{.}}</small>{{end}}<br><small>{{if .Windowed}}windows{{else}}snapshots{{end}}</small></td>
<td><code>{{.Cron}}</code></td>
<td>{{.Timezone}}</td>
<td>{{when .NextFire}}</td>
<td>{{with .LastRun}}{{.Outcome}}{{with .Unit}} <code>{{.}}</code>{{end}}<br><small>{{when .Started}}{{with .Trigger}} · {{.}}{{end}}</small>{{else}}—{{end}}</td>
<td><span class="state state-{{.State}}">{{.State}}</span><br><small>{{.Why}}</small></td>
<td>{{if isZero .Freshness}}—{{else}}{{when .Freshness}}<br><small>{{.Behind}} behind</small>{{end}}</td>
<td class="num{{if .LostWindows}} bad{{end}}">{{.LostWindows}}</td>
<td class="num{{if gt .Missing 0}} bad{{end}}">{{if not .Windowed}}—{{else if eq .Missing -2}}<a href="/schedules/{{.Name}}">see</a>{{else if lt .Missing 0}}?{{else}}{{.Missing}}{{end}}</td>
{{if and $.SignedIn $.CSRF}}<td>{{template "buttons" (buttonsFor $.SignedIn $.CSRF . "overview")}}</td>{{end}}
</tr>
{{end}}</tbody>
</table>
{{else}}
<p>No schedules are configured.</p>
{{end}}
{{template "foot" .}}{{end}}

{{define "schedule"}}{{template "head" .}}
<h2>{{.S.Name}} <span class="state state-{{.S.State}}">{{.S.State}}</span></h2>
{{with .S.Description}}<p>{{.}}</p>{{end}}
<p>{{template "buttons" (buttonsFor $.SignedIn $.CSRF .S "schedule")}}</p>
<dl>
<dt>state</dt><dd>{{.S.State}}: {{.S.Why}}</dd>
<dt>cron</dt><dd><code>{{.S.Cron}}</code> in {{.S.Timezone}}</dd>
<dt>next fire</dt><dd>{{when .S.NextFire}}</dd>
<dt>last run</dt><dd>{{with .S.LastRun}}{{.Outcome}} {{when .Started}}{{else}}—{{end}}</dd>
<dt>freshness</dt><dd>{{if isZero .S.Freshness}}—{{else}}{{when .S.Freshness}} ({{.S.Behind}} behind){{end}}</dd>
<dt>lost windows</dt><dd{{if .S.LostWindows}} class="bad"{{end}}>{{.S.LostWindows}}</dd>
{{if .S.Windowed}}<dt>missing windows</dt><dd{{if gt .S.Missing 0}} class="bad"{{end}}>{{if lt .S.Missing 0}}the archive could not be read{{else}}{{.S.Missing}} of the last {{len .S.Windows}}{{end}}</dd>{{end}}
</dl>
{{if .S.Windowed}}
<h3>Last {{len .S.Windows}} windows</h3>
<figure id="timeline">{{.Timeline}}
<figcaption class="legend">{{range states}}<span><i style="background: {{color .}}"></i>{{.}}</span>{{end}}</figcaption>
</figure>
{{end}}
<h3>Recent runs</h3>
{{if .Runs}}
<table id="runs">
<thead><tr><th>started</th><th>trigger</th><th>unit</th><th>outcome</th><th>key</th><th>rows</th><th>bytes</th><th>duration</th><th>attempt</th><th>error</th></tr></thead>
<tbody>
{{range .Runs}}<tr data-run="{{.ID}}">
<td>{{when .Started}}</td><td>{{.Trigger}}</td><td><code>{{.Unit}}</code></td><td>{{.Outcome}}</td>
<td>{{with .Key}}<code class="key">{{.}}</code>{{else}}—{{end}}</td>
<td class="num">{{.Rows}}</td><td class="num">{{bytes .Bytes}}</td><td class="num">{{.Duration}}</td>
<td class="num">{{if .Attempt}}{{.Attempt}}{{end}}</td><td>{{with .Error}}<span class="bad">{{.}}</span>{{end}}</td>
</tr>
{{end}}</tbody>
</table>
{{else}}<p>No runs yet.</p>{{end}}
{{template "foot" .}}{{end}}

{{define "login"}}{{template "head" .}}
<h2>Sign in</h2>
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="next" value="{{.Next}}">
<p><label>API token <input type="password" name="token" autocomplete="current-password" size="40" autofocus></label>
<button type="submit">Sign in</button></p>
</form>
<p><small>The token of <code>server.token</code> in the daemon's configuration, the one the CLI reads from EXPORTD_TOKEN. The sign-in lasts until you sign out or the daemon restarts.</small></p>
{{template "foot" .}}{{end}}

{{define "message"}}{{template "head" .}}
<p><a href="/">Back to the schedules</a></p>
{{template "foot" .}}{{end}}
`))
