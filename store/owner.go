package store

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Owner is the process that trains a run: its host, its pid and the
// process's start (the boot id and the start time in clock ticks since
// boot, from /proc), so a pid the kernel reused is not taken for the owner.
type Owner struct {
	Host  string
	PID   int
	Start string
}

// Self returns the calling process as an Owner.
func Self() Owner {
	host, _ := os.Hostname()
	return Owner{Host: host, PID: os.Getpid(), Start: processStart(os.Getpid())}
}

// processStart identifies the start of process pid: "<boot id>:<start
// ticks>", or "" where /proc cannot tell.
func processStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(boot)) + ":" + f[19] // field 22, starttime
}

// alive reports whether o is a live process: on this host, the pid exists
// and started when o says (a reused pid is not o); on another host, which
// cannot be asked, a heartbeat younger than fresh counts as alive.
func (o Owner) alive(self Owner, heartbeat time.Time, now time.Time, fresh time.Duration) bool {
	if o.Host != self.Host || o.PID == 0 {
		return now.Sub(heartbeat) < fresh
	}
	if o.PID == self.PID && o.Start == self.Start {
		return true // this process: another worker of ours has it
	}
	if err := syscall.Kill(o.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return o.Start == "" || processStart(o.PID) == o.Start
}

// Claim is what ClaimTrial decided.
type Claim struct {
	// RunID is the run the caller now owns and must train ("" when Done or
	// Busy).
	RunID string
	// Reopened: RunID is an unfinished run taken over under its own id
	// (continue from its checkpoint); otherwise it is a new run.
	Reopened bool
	// Done is the finished run of this trial, when there is one: nothing
	// to train.
	Done *Run
	// Busy: a live process owns a running run of this trial.
	Busy bool
	// Remote: Busy, and the owner is on another host (alive as far as its
	// heartbeat says; a requeued Slurm task sees its dead predecessor so
	// until the heartbeat goes stale).
	Remote bool
}

// ClaimTrial decides, in one write transaction (so processes racing on one
// trial queue on the lock and see each other's claims), who trains the
// trial with r.TrialKey: a done run means nothing to do; a running run
// whose owner is alive (Owner.alive; heartbeats younger than fresh for
// another host's) means another process has it; otherwise the newest
// unfinished run (interrupted, failed, cancelled, or running with a dead
// owner) is taken over under its own id, or a new run is created, owned by
// self.
func (db *DB) ClaimTrial(r NewRun, self Owner, fresh time.Duration) (Claim, error) {
	if r.TrialKey == "" {
		return Claim{}, badInput(nil, "store: claim trial: empty key")
	}
	var c Claim
	err := db.tx(func(tx *sql.Tx) error {
		c = Claim{}
		rows, err := tx.Query(`SELECT id, status, host, COALESCE(owner_pid, 0), COALESCE(owner_start, ''), heartbeat_at
			FROM runs WHERE trial_key = ? ORDER BY started_at DESC, id`, r.TrialKey)
		if err != nil {
			return err
		}
		type row struct {
			id, status string
			owner      Owner
			heartbeat  string
		}
		var rs []row
		for rows.Next() {
			var x row
			if err := rows.Scan(&x.id, &x.status, &x.owner.Host, &x.owner.PID, &x.owner.Start, &x.heartbeat); err != nil {
				rows.Close()
				return err
			}
			rs = append(rs, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		now := db.now()
		take := ""
		for _, x := range rs {
			switch {
			case x.status == "done":
				c.Done = &Run{ID: x.id}
				return nil
			case x.status == "running" && x.owner.alive(self, parseTime(x.heartbeat), now, fresh):
				c.Busy = true
				c.Remote = c.Remote || x.owner.Host != self.Host
			case take == "":
				take = x.id
			}
		}
		if c.Busy {
			return nil
		}
		stamp := now.UTC().Format(timeFormat)
		if take != "" {
			c.RunID, c.Reopened = take, true
			_, err := tx.Exec(`UPDATE runs SET status = 'running', finished_at = NULL, error = '', heartbeat_at = ?,
				host = ?, owner_pid = ?, owner_start = ? WHERE id = ?`, stamp, self.Host, self.PID, self.Start, take)
			return err
		}
		id, err := insertRun(tx, r, self, stamp)
		c.RunID = id
		return err
	})
	if err != nil {
		return Claim{}, fmt.Errorf("store: claim trial: %w", err)
	}
	if c.Done != nil {
		if c.Done, err = db.Run(c.Done.ID); err != nil {
			return Claim{}, err
		}
	}
	return c, nil
}

// String names the owner as host:pid.
func (o Owner) String() string { return o.Host + ":" + strconv.Itoa(o.PID) }
