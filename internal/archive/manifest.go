package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// FormatVersion of manifests, claims and heads written by this code.
const FormatVersion = 1

// Manifest is the commit record of one unit. It is written create-only after
// the unit's object(s); a unit without a manifest is not archived.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	Kind          string `json:"kind"`
	Schedule      string `json:"schedule"`
	// Sequence counts commits of this schedule: 1, 2, 3, ... in commit order.
	Sequence    int64          `json:"sequence"`
	UnitID      string         `json:"unit_id"`
	LogicalTime time.Time      `json:"logical_time"`
	Window      *domain.Window `json:"window,omitempty"`
	// Timezone is the schedule's IANA zone (names the dt= folder).
	Timezone string `json:"timezone"`
	Adhoc    bool   `json:"adhoc,omitempty"`
	// Revision is 1 for the original; a superseding revision is 2, 3, ...
	Revision   int     `json:"revision"`
	Supersedes *Link   `json:"supersedes,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	Run        RunInfo `json:"run"`
	Source     Source  `json:"source"`
	// Definition names the schedule definition record the unit was
	// produced under; absent in manifests written before definition
	// records existed.
	Definition *DefinitionRef `json:"definition,omitempty"`
	Query      *Query         `json:"query,omitempty"`
	Columns    []Column       `json:"columns,omitempty"`
	Objects    []Object       `json:"objects"`
	// Unload, for a warehouse-side unload, says what the warehouse wrote
	// (its query ID and DETAILED_OUTPUT); absent for rows that streamed
	// through exportd and in older manifests.
	Unload *Unload `json:"unload,omitempty"`
	// Prev links the manifest committed just before this one for the same
	// schedule (commit order); nil for the first.
	Prev *Link `json:"prev"`
}

// Link points at another manifest by key and the sha256 of its exact bytes.
type Link struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// RunInfo says which run wrote the manifest.
type RunInfo struct {
	StartedAt      time.Time `json:"started_at"`
	FinishedAt     time.Time `json:"finished_at"`
	Attempt        int       `json:"attempt"`
	Instance       string    `json:"instance"`
	ExportdVersion string    `json:"exportd_version"`
	// Repaired is set when this run completed an interrupted run whose
	// object was already written.
	Repaired bool `json:"repaired,omitempty"`
}

// Source names the warehouse, never its DSN or credentials.
type Source struct {
	Name    string `json:"name"`
	Dialect string `json:"dialect"`
}

// Query is the compiled SQL and its bind parameters.
type Query struct {
	SQL    string  `json:"sql"`
	Params []Param `json:"params"`
	// QueryID is the warehouse's id of the query that produced the objects
	// (Snowflake: find it in QUERY_HISTORY); absent for DuckDB.
	QueryID string `json:"query_id,omitempty"`
}

// Param is one bind parameter as sent to the source.
type Param struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Column is one output column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Object is one archived data object.
type Object struct {
	Key             string            `json:"key"`
	Bytes           int64             `json:"bytes"`
	Rows            int64             `json:"rows"`
	SHA256          string            `json:"sha256"`
	ContentType     string            `json:"content_type"`
	ContentEncoding string            `json:"content_encoding,omitempty"`
	StoreChecksums  map[string]string `json:"store_checksums,omitempty"`
}

// Marshal renders the manifest canonically: indented JSON with a trailing
// newline. Its sha256 is what the next manifest's Prev records.
func (m *Manifest) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ParseManifest decodes a manifest strictly and checks its version.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("manifest: format_version %d not supported (this exportd reads %d)", m.FormatVersion, FormatVersion)
	}
	return &m, nil
}

// SHA256Hex is the lowercase hex sha256 of data.
func SHA256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}
