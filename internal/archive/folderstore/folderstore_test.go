package folderstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/folderstore"
)

// raceChildEnv makes the test binary a racing child process instead of a
// test run (see TestCrossProcessRace).
const raceChildEnv = "EXPORTD_FOLDERSTORE_RACE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(raceChildEnv) != "" {
		os.Exit(raceChild())
	}
	goleak.VerifyTestMain(m)
}

func newStore(t *testing.T) archive.Store {
	s, err := folderstore.New(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAcceptance(t *testing.T) {
	archivetest.Run(t, newStore)
}

// A failed Put leaves no temp file behind, and a published object is
// read-only.
func TestPutLeavesNoTemp(t *testing.T) {
	s, err := folderstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("partial"))
		pw.CloseWithError(errors.New("query failed"))
	}()
	if _, err := s.Put(ctx, "a/b.csv", pr, archive.PutOptions{}); err == nil {
		t.Fatal("Put with a failing body succeeded")
	}
	tmp, err := os.ReadDir(filepath.Join(s.Root(), ".tmp"))
	if err != nil || len(tmp) != 0 {
		t.Fatalf(".tmp after a failed Put: %v %v", tmp, err)
	}
	if _, err := s.Put(ctx, "a/b.csv", strings.NewReader("x"), archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.Root(), "a", "b.csv"))
	if err != nil || fi.Mode().Perm()&0o222 != 0 {
		t.Fatalf("published object mode %v (err %v), want read-only", fi.Mode(), err)
	}
}

const (
	raceProcs = 4
	raceKeys  = 25
)

// TestCrossProcessRace re-executes the test binary as raceProcs processes
// that race Put and Create on the same keys of one folder: each key has
// exactly one winner and holds the winner's bytes.
func TestCrossProcessRace(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "archive")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	outs := make([]*bytes.Buffer, raceProcs)
	cmds := make([]*exec.Cmd, raceProcs)
	for i := range raceProcs {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), raceChildEnv+"="+strconv.Itoa(i), "RACE_DIR="+dir, "RACE_ROOT="+root)
		outs[i] = new(bytes.Buffer)
		cmd.Stdout = outs[i]
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	// Start them together once all are ready, so that they really race.
	for i := range raceProcs {
		for {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("ready-%d", i))); err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("child %d never got ready", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	winners := map[string][]int{}
	for i, out := range outs {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var op, result string
			var k int
			if _, err := fmt.Sscanf(sc.Text(), "%s %d %s", &op, &k, &result); err != nil {
				t.Fatalf("child %d printed %q", i, sc.Text())
			}
			id := fmt.Sprintf("%s %d", op, k)
			switch result {
			case "won":
				winners[id] = append(winners[id], i)
			case "exists":
				if _, seen := winners[id]; !seen {
					winners[id] = nil
				}
			default:
				t.Fatalf("child %d: %s", i, sc.Text())
			}
		}
	}
	s, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	spread := map[int]int{}
	for k := range raceKeys {
		for _, op := range []string{"put", "create"} {
			id := fmt.Sprintf("%s %d", op, k)
			w, ok := winners[id]
			if !ok || len(w) != 1 {
				t.Fatalf("%s: winners %v, want exactly one", id, w)
			}
			spread[w[0]]++
			var data []byte
			if op == "put" {
				rc, _, err := s.Get(t.Context(), raceKey(op, k))
				if err != nil {
					t.Fatal(err)
				}
				data, _ = io.ReadAll(rc)
				rc.Close()
			} else if data, _, err = s.Read(t.Context(), raceKey(op, k)); err != nil {
				t.Fatal(err)
			}
			if string(data) != raceBody(w[0], op, k) {
				t.Fatalf("%s holds %q, want the winner %d's bytes", id, data, w[0])
			}
		}
	}
	t.Logf("wins per process: %v", spread)
}

func raceKey(op string, k int) string {
	if op == "put" {
		return fmt.Sprintf("race/dt=2027-03-14/put-%d.csv", k)
	}
	return fmt.Sprintf("_claims/race/c-%d", k)
}

func raceBody(proc int, op string, k int) string {
	return strings.Repeat(fmt.Sprintf("process %d %s %d\n", proc, op, k), 1000)
}

// raceChild is the body of one racing process.
func raceChild() int {
	id, _ := strconv.Atoi(os.Getenv(raceChildEnv))
	dir, root := os.Getenv("RACE_DIR"), os.Getenv("RACE_ROOT")
	s, err := folderstore.New(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", id)), nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for deadline := time.Now().Add(time.Minute); ; {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "no go signal")
			return 2
		}
		time.Sleep(100 * time.Microsecond)
	}
	ctx := context.Background()
	result := func(err error) string {
		switch {
		case err == nil:
			return "won"
		case errors.Is(err, archive.ErrExists):
			return "exists"
		default:
			return "error:" + strings.ReplaceAll(err.Error(), " ", "_")
		}
	}
	for k := range raceKeys {
		_, err := s.Put(ctx, raceKey("put", k), strings.NewReader(raceBody(id, "put", k)), archive.PutOptions{})
		fmt.Printf("put %d %s\n", k, result(err))
		_, err = s.Create(ctx, raceKey("create", k), []byte(raceBody(id, "create", k)))
		fmt.Printf("create %d %s\n", k, result(err))
	}
	return 0
}

// TestNoLockFilesLeft: the lock files that serialise small-object writes
// (claims, heads, pause markers) are removed when each write is done, also
// when goroutines contend for the same key; the lock still lets exactly one
// create of a key win.
func TestNoLockFilesLeft(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "archive")
	s, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	wins := make(chan string, n)
	errs := make(chan error, 4*n)
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			body := []byte(fmt.Sprintf(`{"owner":%d}`, i))
			if tag, err := s.Create(ctx, "p/_claims/daily/u1", body); err == nil {
				wins <- tag
			} else if !errors.Is(err, archive.ErrExists) {
				errs <- err
			}
			key := fmt.Sprintf("p/_paused/s%d", i)
			tag, err := s.Create(ctx, key, body)
			if err != nil {
				errs <- err
				return
			}
			if tag, err = s.Replace(ctx, key, append(body, ' '), tag); err != nil {
				errs <- err
				return
			}
			if err := s.Delete(ctx, key, tag); err != nil {
				errs <- err
			}
		}()
	}
	for range n {
		<-done
	}
	close(wins)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(wins) != 1 {
		t.Errorf("%d creates of one claim won, want 1", len(wins))
	}
	var locks []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".lock") {
			locks = append(locks, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) != 0 {
		t.Errorf("lock files left behind: %q", locks)
	}
}
