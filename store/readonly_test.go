package store

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A read-only open of a missing path creates nothing and says so.
func TestOpenReadOnlyMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "typo.sqlite")
	_, err := Open(p, ReadOnly())
	var ie *InputError
	if !errors.As(err, &ie) || !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), "no database at "+p) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("a read-only open created the database")
	}
}

// A read-only open reads but refuses writes.
func TestOpenReadOnlyRefusesWrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lab.sqlite")
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	id, err := db.CreateRun(newRun("s", 0, "softmax", 64))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := Open(p, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Run(id); err != nil {
		t.Fatal(err)
	}
	if err := ro.Heartbeat(id); err == nil {
		t.Fatal("a write through a read-only open succeeded")
	}
}

// A database in a directory the user may not write to opens read-only and
// reads (before: "attempt to write a readonly database"). Root writes
// anywhere, so as root the check runs in a child process as nobody.
func TestOpenReadOnlyDir(t *testing.T) {
	if p := os.Getenv("LAB_STORE_RO_CHILD"); p != "" {
		db, err := Open(p, ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		runs, err := db.Runs(Filter{})
		if err != nil || len(runs) != 1 {
			t.Fatalf("%v: %d runs", err, len(runs))
		}
		return
	}
	dir, err := os.MkdirTemp("", "lab-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "lab.sqlite")
	db, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateRun(newRun("s", 0, "softmax", 64)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	self := filepath.Join(dir, "store.test") // a copy anyone may run
	if err := copyFile(os.Args[0], self); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o444)
	os.Chmod(dir, 0o555)
	cmd := exec.Command(self, "-test.run=^TestOpenReadOnlyDir$", "-test.v")
	cmd.Env = append(os.Environ(), "LAB_STORE_RO_CHILD="+p)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("read-only open in a read-only directory: %v\n%s", err, out)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("%d files in the directory, want the database and the test binary", len(ents))
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
