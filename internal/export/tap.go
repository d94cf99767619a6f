package export

import (
	"io"

	"github.com/exportd/exportd/internal/domain"
)

// Tap sees the CSV bytes of one streamed upload attempt before they are
// compressed (data alerts evaluate rows on it). It must not fail: its
// Write errors are ignored by the caller's contract (it should accept all
// bytes). Done says whether the attempt stored the object.
type Tap interface {
	io.Writer
	Done(stored bool)
}

func (j *Job) tap(u domain.Unit) Tap {
	if j.Tap == nil {
		return nil
	}
	return j.Tap(u)
}

// withTap tees w into t (when set).
func withTap(w io.Writer, t Tap) io.Writer {
	if t == nil {
		return w
	}
	return io.MultiWriter(w, t)
}

func tapDone(t Tap, stored bool) {
	if t != nil {
		t.Done(stored)
	}
}
