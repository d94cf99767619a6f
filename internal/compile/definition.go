package compile

import (
	"encoding/json"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
)

// Definition is what the archive records of a schedule's definition:
// everything that decides which units exist and what they hold, never a
// secret, a DSN or a source's init SQL.
func Definition(s *config.Schedule, dialect string, sql map[string]string) archive.DefinitionSpec {
	el := elementJSON(s)
	d := archive.DefinitionSpec{
		Cron: s.Cron, Timezone: s.Location.String(), CatchUp: string(s.CatchUp), Condition: string(s.Condition),
		DedupeBy: s.DedupeBy, Element: el, SQL: sql,
		Source: archive.Source{Name: s.Source, Dialect: dialect},
		Destination: archive.DefinitionDestination{Prefix: s.Destination.Prefix, Filename: s.Layout().Filename.String(),
			Ext: s.Layout().Ext},
	}
	if w := s.Window; w != nil {
		d.Window = &archive.DefinitionWindow{Every: string(w.Every), Column: w.Column, Lag: time.Duration(w.Lag).String(), Start: w.Start}
	}
	if ic := s.Destination.IntegrationConfig; ic != nil && ic.Type == config.IntegrationS3 && ic.S3.ObjectLock != nil {
		d.Retention = &archive.Retention{Mode: ic.S3.ObjectLock.Mode, Retain: time.Duration(ic.S3.ObjectLock.Retain).String()}
	}
	return d
}

// elementJSON is the element with the schedule file's field names
// (from, filters, group_by, ...).
func elementJSON(s *config.Schedule) json.RawMessage {
	var v any
	if y, err := yaml.Marshal(s.Element); err == nil && yaml.Unmarshal(y, &v) == nil {
		if j, err := json.Marshal(v); err == nil {
			return j
		}
	}
	j, _ := json.Marshal(s.Element)
	return j
}
