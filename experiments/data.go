package experiments

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"lab/tasks"
)

// dataCache generates each task's examples once per sweep: the trials of a
// sweep that train (or evaluate) on the same task parameters, size and
// seed share one read-only tasks.Batch instead of each generating and
// holding its own (a Zoology grid trains 16 trials per setting on one
// 100,000-example pool).
type dataCache struct {
	mu sync.Mutex
	m  map[string]*dataEntry
}

type dataEntry struct {
	once sync.Once
	b    *tasks.Batch
	err  error
}

func newDataCache() *dataCache { return &dataCache{m: map[string]*dataEntry{}} }

// dataKey names a pool: the task, its resolved parameters, size and seed.
func dataKey(t tasks.Task, n int, seed uint64) string {
	p := t.Params()
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%d|%d", t.Info().Name, n, seed)
	for _, k := range keys {
		fmt.Fprintf(&b, "|%s=%v", k, p[k])
	}
	return b.String()
}

// generate returns t's n examples from seed, generating them on first use
// (concurrent callers of one key wait for the one generation). A nil cache
// generates every time.
func (c *dataCache) generate(t tasks.Task, n int, seed uint64) (*tasks.Batch, error) {
	if c == nil {
		return t.Generate(n, seed)
	}
	k := dataKey(t, n, seed)
	c.mu.Lock()
	e := c.m[k]
	if e == nil {
		e = &dataEntry{}
		c.m[k] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.b, e.err = t.Generate(n, seed) })
	return e.b, e.err
}
