package domain

import (
	"fmt"
	"os"
	"regexp"
)

// NameRE is the rule for schedule (export) names: they name files, folders
// and object keys. They cannot start with '_', so they never collide with the
// archive's reserved folders (_claims, _head, ...).
var NameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Outcomes of a run: the run history's outcome, the API's status and the
// outcome label of exportd_runs_total.
const (
	// OutcomeRunning is a run's outcome while it runs.
	OutcomeRunning = "running"
	// OutcomeAccepted is the API's status of a run that started when the
	// client did not wait for it.
	OutcomeAccepted        = "accepted"
	OutcomeExported        = "exported"
	OutcomeSkipped         = "skipped"
	OutcomeLost            = "lost"
	OutcomeAlreadyArchived = "already_archived"
	OutcomeClaimed         = "claimed"
	OutcomeFailed          = "failed"
)

// Manifest kinds: what a committed unit holds.
const (
	// KindExported: the unit's rows were exported (its objects).
	KindExported = OutcomeExported
	// KindSkipped: the schedule's condition said not to export.
	KindSkipped = OutcomeSkipped
	// KindLost: the source no longer holds the window (retention).
	KindLost = OutcomeLost
	// KindSuperseded: a later revision (2, 3, ...) of a unit, exported
	// again after a recheck; it names the revision it supersedes.
	KindSuperseded = "superseded"
)

// DefaultInstance names this process in claims and manifests when the config
// sets no instance_id: host:pid.
func DefaultInstance() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", h, os.Getpid())
}
