package store

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Processes racing to claim one trial (here: eight connections of their own,
// at once) leave one run and exactly one owner; the others see it busy.
func TestClaimTrialRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lab.sqlite")
	first, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	const n = 8
	claims := make([]Claim, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(path)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			<-start
			claims[i], errs[i] = db.ClaimTrial(newRun("s", 0, "softmax", 64), Self(), 30*time.Second)
		}()
	}
	close(start)
	wg.Wait()
	owners := 0
	for i, c := range claims {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if c.RunID != "" {
			owners++
		} else if !c.Busy {
			t.Errorf("claim %d: %+v, want busy", i, c)
		}
	}
	runs, _ := first.Runs(Filter{})
	if owners != 1 || len(runs) != 1 {
		t.Fatalf("%d owners, %d runs; want 1 and 1", owners, len(runs))
	}
}

// A running run whose owner on this host is gone is taken over at once under
// its own id; a live owner's is left alone; another host's is trusted while
// its heartbeat is fresh; a done run ends the matter.
func TestClaimTrialTakesOverDeadOwner(t *testing.T) {
	db := openTemp(t)
	db.now = time.Now
	self := Self()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	dead := Owner{Host: self.Host, PID: gone.Process.Pid, Start: "boot:1"}
	r := newRun("s", 0, "softmax", 64)
	id, err := insertRun(db.sql, r, dead, db.stamp()) // running, fresh heartbeat
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.ClaimTrial(r, self, 30*time.Second)
	if err != nil || !c.Reopened || c.RunID != id {
		t.Fatalf("dead owner: %+v %v, want run %s taken over", c, err, id)
	}
	// Now this live process owns it: a second claimant finds it busy.
	other := self
	other.PID, other.Start = self.PID+1, "other"
	if c, _ := db.ClaimTrial(r, other, 30*time.Second); !c.Busy {
		t.Fatalf("live owner: %+v, want busy", c)
	}
	// Another host's run: busy while its heartbeat is fresh, taken once stale.
	r2 := newRun("s", 1, "linear", 64)
	far := Owner{Host: "elsewhere", PID: 1, Start: "x"}
	id2, _ := insertRun(db.sql, r2, far, db.stamp())
	if c, _ := db.ClaimTrial(r2, self, 30*time.Second); !c.Busy || !c.Remote {
		t.Fatalf("fresh remote owner: %+v, want busy", c)
	}
	if c, _ := db.ClaimTrial(r2, self, 0); c.RunID != id2 || !c.Reopened {
		t.Fatalf("stale remote owner: %+v, want %s taken over", c, id2)
	}
	if err := db.FinishRun(id2, Finish{Status: "done"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.ClaimTrial(r2, self, 0); c.Done == nil || c.Done.ID != id2 || c.RunID != "" {
		t.Fatalf("done: %+v", c)
	}
}
