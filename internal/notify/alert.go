package notify

import (
	"fmt"
	"strings"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/workbook"
)

// Alert is a compiled data alert of a schedule.
type Alert struct {
	Name string
	cond *workbook.RowCondition
}

// CompileAlerts type-checks a schedule's data alerts against the output
// columns of its element. Errors name the alert and the column inside its
// formula.
func CompileAlerts(alerts []config.DataAlert, cols []workbook.OutputColumn) ([]*Alert, error) {
	var out []*Alert
	for i, a := range alerts {
		c, err := workbook.CompileRowCondition(a.When, cols)
		if err != nil {
			return nil, fmt.Errorf("alerts[%d].%v", i, err)
		}
		name := a.Name
		if name == "" {
			name = a.When
		}
		out = append(out, &Alert{Name: name, cond: c})
	}
	return out, nil
}

// Hit is what a Watch found for one alert.
type Hit struct {
	Alert string
	// Rows is the number of rows meeting the condition; First is the
	// first of them, as "column=value" in column order.
	Rows  int64
	First []string
}

// Watch evaluates data alerts on the CSV bytes of an export as they are
// rendered (before compression): it is an io.Writer to tee the stream
// into, with an incremental CSV parser, so no second query and no second
// pass over the data. It never fails the export: a row it cannot evaluate
// is counted in Errors, and Write always accepts all of p.
type Watch struct {
	alerts []*Alert
	hits   []Hit

	header []string
	rec    []string
	field  strings.Builder
	quoted bool // inside a quoted field
	quote  bool // just saw a quote inside a quoted field
	cr     bool
	start  bool // at the start of a field

	Errors  int64
	LastErr error
}

// NewWatch returns a Watch of alerts, or nil when there are none.
func NewWatch(alerts []*Alert) *Watch {
	if len(alerts) == 0 {
		return nil
	}
	w := &Watch{alerts: alerts, hits: make([]Hit, len(alerts)), start: true}
	for i, a := range alerts {
		w.hits[i].Alert = a.Name
	}
	return w
}

// Write parses p and evaluates every completed row.
func (w *Watch) Write(p []byte) (int, error) {
	for _, c := range p {
		if w.quoted {
			switch {
			case w.quote && c == '"':
				w.field.WriteByte('"')
				w.quote = false
			case w.quote:
				w.quoted, w.quote = false, false
				w.plain(c)
			case c == '"':
				w.quote = true
			default:
				w.field.WriteByte(c)
			}
			continue
		}
		w.plain(c)
	}
	return len(p), nil
}

func (w *Watch) plain(c byte) {
	switch c {
	case '"':
		if w.start {
			w.quoted, w.start = true, false
			return
		}
		w.field.WriteByte(c)
	case ',':
		w.endField()
	case '\r':
		w.cr = true
	case '\n':
		w.endField()
		w.endRecord()
	default:
		if w.cr {
			w.field.WriteByte('\r')
		}
		w.field.WriteByte(c)
		w.start = false
	}
	if c != '\r' {
		w.cr = false
	}
}

func (w *Watch) endField() {
	w.rec = append(w.rec, w.field.String())
	w.field.Reset()
	w.start = true
}

func (w *Watch) endRecord() {
	rec := w.rec
	w.rec = w.rec[:0:0]
	if w.header == nil {
		w.header = rec
		return
	}
	for i, a := range w.alerts {
		ok, err := a.cond.Match(rec)
		if err != nil {
			w.Errors++
			w.LastErr = err
			continue
		}
		if !ok {
			continue
		}
		h := &w.hits[i]
		h.Rows++
		if h.First == nil {
			h.First = make([]string, 0, len(rec))
			for j, v := range rec {
				if j < len(w.header) {
					h.First = append(h.First, w.header[j]+"="+v)
				}
			}
		}
	}
}

// Close ends a last row without a line break.
func (w *Watch) Close() error {
	if w.field.Len() > 0 || len(w.rec) > 0 {
		w.endField()
		w.endRecord()
	}
	return nil
}

// Hits returns the alerts whose condition some row met.
func (w *Watch) Hits() []Hit {
	if w == nil {
		return nil
	}
	var out []Hit
	for _, h := range w.hits {
		if h.Rows > 0 {
			out = append(out, h)
		}
	}
	return out
}
