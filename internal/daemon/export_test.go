package daemon

import "context"

// CheckMissing runs one look for missing windows (the loop's tick).
func (d *Daemon) CheckMissing(ctx context.Context) { d.checkMissing(ctx) }
