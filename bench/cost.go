// Package bench measures what a token mixer costs: the time of its training
// forward and forward+backward passes, of prefill, of one decode step from a
// context of L tokens (a KV cache that grows with L, or a fixed state), and
// the memory each takes, across sequence lengths. Results become bench rows
// in the store, which `lab plot cost` draws on log-log axes.
package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"lab/architectures"
	"lab/hybrid"
	"lab/kernels"
	"lab/store"
)

// Config selects the measurements.
type Config struct {
	Mixers  []string // mixer specs, e.g. "softmax", "swa(window=64)"
	Lengths []int
	DModel  int
	Heads   int
	Batch   int   // for forward and forward+backward; prefill and decode use 1
	Chunk   int   // chunk size of chunked forms
	MaxMem  int64 // skip a graph whose buffers would exceed this many bytes
	MinTime time.Duration
	Seed    uint64
	// Kinds limits the measurements to these of forward, forward_backward,
	// prefill, decode (all when empty).
	Kinds []string
	// Progress, when set, hears each measurement as it lands.
	Progress func(b store.Bench)
}

// Check returns the first problem of c as bad input naming the `lab bench
// cost` flag: a size that is not a positive integer (d_model, heads, batch,
// chunk, each length), heads that do not divide d_model, an unknown kind;
// then it builds every mixer at every length: an unknown mixer, a stack
// where one mixer is wanted, or arguments the mixer refuses. It measures
// nothing.
func (c Config) Check() error {
	bad := func(format string, a ...any) error { return &architectures.InputError{Msg: fmt.Sprintf(format, a...)} }
	for _, f := range []struct {
		flag string
		v    int
	}{{"d-model", c.DModel}, {"heads", c.Heads}, {"batch", c.Batch}, {"chunk", c.Chunk}} {
		if f.v <= 0 {
			return bad("--%s %d: must be a positive integer", f.flag, f.v)
		}
	}
	if c.DModel%c.Heads != 0 {
		return bad("--heads %d: must divide --d-model %d", c.Heads, c.DModel)
	}
	for _, l := range c.Lengths {
		if l <= 0 {
			return bad("--length %d: must be a positive integer", l)
		}
	}
	for _, k := range c.Kinds {
		if !slices.Contains(Kinds, k) {
			return bad("--kind %q: allowed: %s", k, strings.Join(Kinds, ", "))
		}
	}
	for _, name := range c.Mixers {
		for _, l := range c.Lengths {
			if _, _, err := c.mixer(name, l); err != nil {
				return err
			}
		}
	}
	return nil
}

// Kinds are the measurements of Measure, in the order it makes them.
var Kinds = []string{"forward", "forward_backward", "prefill", "decode"}

// MaxMemBytes converts `lab bench cost --max-mem`, GiB a graph may plan, to
// Config.MaxMem in bytes; anything but a positive finite number of at
// least one byte is bad input.
func MaxMemBytes(gib float64) (int64, error) {
	if !(gib > 0) || math.IsInf(gib, 0) || gib*(1<<30) < 1 {
		return 0, &architectures.InputError{Msg: fmt.Sprintf("--max-mem %v: want a positive number of GiB (such as 8 or 0.5) that a graph may plan", gib)}
	}
	return int64(gib * (1 << 30)), nil
}

// mixer builds the one mixer name describes for length l from a generator
// seeded by l, and returns that generator (the measurement's inputs come
// from it next).
func (c Config) mixer(name string, l int) (architectures.Mixer, *rand.Rand, error) {
	stack, err := hybrid.Parse(name)
	if err != nil {
		return nil, nil, err
	}
	if len(stack) != 1 || len(stack[0].Mixers) != 1 {
		return nil, nil, &architectures.InputError{Msg: fmt.Sprintf("bench: %q: name one mixer, not a stack", name)}
	}
	hm := stack[0].Mixers[0]
	args := map[string]string{}
	for _, a := range hm.Args {
		args[a.Key] = a.Value
	}
	rng := rand.New(rand.NewPCG(c.Seed, uint64(l)))
	m, err := architectures.NewMixer(hm.Name, args, architectures.Config{D: c.DModel, Heads: c.Heads, Chunk: c.Chunk, Layers: 1, MaxLen: l}, rng)
	return m, rng, err
}

// Measure runs every mixer at every length and returns the bench rows.
// Shapes a graph cannot hold within MaxMem are skipped and reported as a
// "needs_bytes" row (the largest single buffer, a lower bound on the need)
// so the tables show where the wall is.
//
// Every mixer is built at every length first (Check), so a bad one is
// reported before any row is measured or heard by Progress.
func Measure(c Config) ([]store.Bench, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	var out []store.Bench
	add := func(b store.Bench) {
		out = append(out, b)
		if c.Progress != nil {
			c.Progress(b)
		}
	}
	for _, name := range c.Mixers {
		for _, l := range c.Lengths {
			m, rng, err := c.mixer(name, l)
			if err != nil {
				return nil, err
			}
			row := func(kind, metric, unit string, v float64, batch int) store.Bench {
				cfg, _ := json.Marshal(map[string]any{"heads": c.Heads, "chunk": c.Chunk, "threads": kernels.Threads()})
				return store.Bench{Kind: kind, Mixer: name, Device: "cpu", SeqLen: l, Batch: batch, DModel: c.DModel, Metric: metric, Value: v, Unit: unit, Config: cfg}
			}
			for _, kind := range []string{"forward", "forward_backward", "prefill"} {
				if !c.wants(kind) {
					continue
				}
				batch := c.Batch
				if kind == "prefill" {
					batch = 1
				}
				ms, bytes, need, err := timeGraph(m, batch, l, c, kind == "forward_backward", rng)
				if err != nil {
					return nil, fmt.Errorf("bench %s %s L=%d: %w", name, kind, l, err)
				}
				if need > 0 {
					add(row(kind, "needs_bytes", "bytes", float64(need), batch))
					continue
				}
				add(row(kind, "time", "ms", ms, batch))
				add(row(kind, "memory", "bytes", float64(bytes), batch))
			}
			if c.wants("decode") {
				us, state := timeDecode(m, l, c, rng)
				add(row("decode", "time", "us/token", us, 1))
				add(row("decode", "state", "bytes", float64(state), 1))
			}
		}
	}
	return out, nil
}

// timeGraph builds the mixer's chunked form on a random [batch, L, D] input
// (and, with backward, the gradients of sum(y) with respect to the
// parameters and the input), then times Run. It returns the mean ms per run
// and the planned buffer bytes; or, when the graph's buffers would exceed
// MaxMem, the size of its largest single buffer (it needs at least that).
func timeGraph(m architectures.Mixer, batch, l int, c Config, backward bool, rng *rand.Rand) (ms float64, bytes, need int64, err error) {
	g := kernels.NewGraph()
	x := g.Param(kernels.NewParam("x", kernels.New(batch, l, c.DModel).Randn(rng, 1)))
	var outs []*kernels.Node
	err = kernels.Catch(func() {
		y := m.Build(g, x, architectures.Chunked)
		outs = []*kernels.Node{y}
		if backward {
			loss := g.SumAll(y)
			wrt := []*kernels.Node{x}
			for _, p := range m.Params() {
				wrt = append(wrt, g.Param(p))
			}
			outs = append([]*kernels.Node{loss}, g.Grad(loss, wrt)...)
		}
	})
	if err != nil {
		return 0, 0, 0, err
	}
	// Upper bound before allocating: every node's buffer at once.
	var upper int64
	for _, n := range g.Nodes {
		upper += int64(n.Len()) * 4
	}
	if upper > c.MaxMem {
		// The planner reuses buffers, so the real need is lower; the
		// largest single node is a firm lower bound worth reporting.
		var largest int64
		for _, n := range g.Nodes {
			largest = max(largest, int64(n.Len())*4)
		}
		if largest*2 > c.MaxMem {
			return 0, 0, largest, nil // a firm lower bound: one buffer this big
		}
	}
	p, err := kernels.Compile(g, outs...)
	if err != nil {
		return 0, 0, 0, err
	}
	p.Run() // first touch
	n := 0
	start := time.Now()
	for n < 3 || time.Since(start) < c.MinTime {
		p.Run()
		n++
	}
	return float64(time.Since(start).Microseconds()) / 1000 / float64(n), p.PlannedBytes, 0, nil
}

// timeDecode measures one recurrent step from a context of L tokens: the
// state is built by L steps when that is cheap, else filled at its size
// (a KV cache of L tokens is L tokens of any values for timing purposes).
func timeDecode(m architectures.Mixer, l int, c Config, rng *rand.Rand) (usPerToken float64, stateBytes int64) {
	s := m.NewState(1)
	x := make([]float32, c.DModel)
	y := make([]float32, c.DModel)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	grown := false
	for _, t := range s.Tensors {
		if t.Len() == 0 {
			grown = true // a growing cache: fill it to L tokens directly
		}
	}
	if grown {
		// As many cached tokens as the recurrent form keeps after L (a
		// sliding window keeps at most its window), from StateBytes.
		// The growing dim is the one of size 0; the others give a token's size.
		var fixed, perTok int64
		for _, t := range s.Tensors {
			if t.Len() == 0 {
				perTok += int64(tokenSize(t.Shape)) * 4
			} else {
				fixed += t.Bytes()
			}
		}
		keep := int((m.StateBytes(l) - fixed) / perTok)
		for i, t := range s.Tensors {
			if t.Len() == 0 {
				shape := append([]int(nil), t.Shape...)
				for d, n := range shape {
					if n == 0 {
						shape[d] = keep
					}
				}
				s.Tensors[i] = kernels.New(shape...).Randn(rng, 1)
			}
		}
		s.Pos = l
	} else {
		for i := 0; i < min(l, 64); i++ { // a fixed state: its size is what it is
			m.Step(s, x, y)
		}
	}
	// Time steps from the same context: restore the state each time so a
	// growing cache stays at L.
	runtime.GC() // the graphs timed before leave garbage; do not time its collection
	saved := make([]*kernels.Tensor, len(s.Tensors))
	for i, t := range s.Tensors {
		saved[i] = t.Clone()
	}
	n := 0
	var spent time.Duration
	for n < 5 || spent < c.MinTime {
		for i := range s.Tensors {
			s.Tensors[i] = saved[i].Clone()
			// Room for the token the step appends, as a running decoder has.
			s.Tensors[i].Data = append(make([]float32, 0, len(saved[i].Data)+len(x)), saved[i].Data...)
		}
		t0 := time.Now()
		m.Step(s, x, y)
		spent += time.Since(t0)
		n++
	}
	for i := range s.Tensors {
		s.Tensors[i] = saved[i]
	}
	return float64(spent.Nanoseconds()) / 1000 / float64(n), s.Bytes()
}

// tokenSize is the product of a growing cache's non-zero dims.
func tokenSize(shape []int) int {
	n := 1
	for _, d := range shape {
		if d != 0 {
			n *= d
		}
	}
	return n
}

// wants reports whether kind is to be measured.
func (c Config) wants(kind string) bool {
	if len(c.Kinds) == 0 {
		return true
	}
	for _, k := range c.Kinds {
		if k == kind {
			return true
		}
	}
	return false
}
