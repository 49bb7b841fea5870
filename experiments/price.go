package experiments

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"lab/hybrid"
	"lab/tasks"
)

// Price is the memory one trial is estimated to need before anything is
// allocated, by part, in bytes. It is an estimate from the spec's sizes,
// not the graph planner's count (that needs the model built): meant to
// refuse what cannot fit by a wide margin, not to budget the last megabyte.
type Price struct {
	// Params: the weights, their gradients and AdamW's two moments (4
	// float32 copies of every parameter).
	Params int64
	// Activations: the training step's planned buffers (forward and
	// backward, buffers reused) and each eval set's forward buffers: per
	// layer the residual stream, norms, projections and the channel mixer;
	// softmax attention's L x L scores; the logits.
	Activations int64
	// Data: the training pool and the eval sets as int32 inputs and
	// targets and a mask (12 bytes a token).
	Data int64
	// ParamCount is the estimated parameter count.
	ParamCount int64
}

// Total is the bytes the trial is estimated to need.
func (p Price) Total() int64 { return sat(sat(p.Params, p.Activations), p.Data) }

// sat adds without overflowing.
func sat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// bytesOf rounds a float count of bytes to int64, saturating.
func bytesOf(f float64) int64 {
	if f >= math.MaxInt64 || math.IsNaN(f) {
		return math.MaxInt64
	}
	return int64(math.Ceil(f))
}

// PriceSpec estimates the memory of a trial of s with its training task
// and eval sets built (tasks.New allocates nothing). It reads only sizes;
// it allocates nothing.
func PriceSpec(s *Spec, train tasks.Task, evals []PreparedEval) Price {
	m, t := s.Model, s.Train
	seqLen := train.SeqLen()
	D, N, V := float64(m.DModel), float64(m.Layers), float64(train.Vocab())
	maxLen := seqLen
	data := float64(s.Task.TrainExamples) * float64(seqLen) * 12
	for _, e := range evals {
		l := e.Task.SeqLen()
		maxLen = max(maxLen, l)
		data += float64(e.Examples) * float64(l) * 12
	}
	L := float64(maxLen)

	// Parameters: embedding (and an untied head), learned positions, and
	// per layer about 4 D^2 for the mixer's projections plus the channel
	// mixer.
	params := V * D
	if !m.TieEmbeddings {
		params += V * D
	}
	if m.Position == "learned" {
		params += L * D
	}
	r := float64(m.MLPRatio)
	channel := 0.0
	switch m.Channel {
	case "mlp":
		channel = 2 * r * D * D
	case "glu":
		channel = 3 * r * D * D
	case "none":
	default:
		channel = 2 * r * D * D
	}
	params += N * (4*D*D + channel + 4*D)

	// Activations, float32: per layer about 12 B L D for norms,
	// projections and residuals, plus the channel's hidden width; softmax
	// layers hold B H L^2 scores and probabilities; the head holds B K V
	// logits and their softmax (K targets per example). Every eval set
	// keeps its own forward program (batch max(batch, 64), at most its
	// examples), whose buffers live about one layer at a time.
	softmaxLayers := 0.0
	if stack, err := hybrid.Parse(m.Mixer); err == nil {
		for _, layer := range stack {
			for _, mx := range layer.Mixers {
				if mx.Name == "softmax" {
					softmaxLayers++
				}
			}
		}
		if len(stack) == 1 { // a one-layer mix repeats over model.layers
			softmaxLayers *= N
		}
	}
	hidden := 3 * r // the channel mixer's hidden width, in D
	if m.Channel == "none" {
		hidden = 0
	}
	// forward is the floats of n layers' buffers and the head.
	forward := func(n, soft, B, L, targets float64) float64 {
		return n*(12+hidden)*B*L*D + soft*2*B*float64(m.Heads)*L*L + 2*B*targets*V
	}
	// The planner reuses buffers, so the training step (forward and
	// backward) plans about this forward figure: `lab bench train --mixer
	// softmax --d-model 64 --length 256 --batch 64 --vocab 128` (targets at
	// every position) planned 209 MB where this estimates 285 MB.
	act := forward(N, softmaxLayers, float64(t.Batch), float64(seqLen), float64(train.TargetsPerExample()))
	for _, e := range evals {
		// Forward only: the planner reuses one layer's buffers for the next.
		act += forward(1, min(softmaxLayers, 1), float64(min(max(t.Batch, 64), e.Examples)), float64(e.Task.SeqLen()), float64(e.Task.TargetsPerExample()))
	}
	act *= 4

	return Price{
		Params:      bytesOf(params * 4 * 4),
		Activations: bytesOf(act),
		Data:        bytesOf(data),
		ParamCount:  bytesOf(params),
	}
}

// MemAvailable returns the kernel's estimate of the memory available to a
// new process (MemAvailable in /proc/meminfo), in bytes; ok is false where
// it cannot be read.
func MemAvailable() (bytes int64, ok bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !found {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			return 0, false
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}

// checkPrice refuses a trial whose estimated memory exceeds maxMem bytes
// (0: MemAvailable, unchecked where that cannot be read), with one line
// naming the field that dominates, the bytes needed and the bytes
// available.
func checkPrice(t Trial, p Price, maxMem int64) error {
	limit, source := maxMem, "--max-mem"
	if limit <= 0 {
		var ok bool
		if limit, ok = MemAvailable(); !ok {
			return nil
		}
		source = "MemAvailable"
	}
	return refuse(t, p, p.Total(), limit, "", source)
}

// checkDevicePrice refuses a trial whose weights, AdamW state and
// activations (the parts that live on the GPU; the data pools stay on the
// host) would not fit in free bytes of a GPU.
func checkDevicePrice(t Trial, p Price, free int64, device string) error {
	return refuse(t, p, sat(p.Params, p.Activations), free, "GPU memory", fmt.Sprintf("free on %s", device))
}

// refuse is the one-line error of checkPrice and checkDevicePrice: need
// bytes against limit; kind names the memory ("GPU memory"), "" the host's.
func refuse(t Trial, p Price, need, limit int64, kind, source string) error {
	if need <= limit {
		return nil
	}
	s := t.Spec
	field, value := "model.d_model", strconv.Itoa(s.Model.DModel)
	switch {
	case kind == "" && p.Data >= p.Params && p.Data >= p.Activations:
		field, value = "task.train_examples", strconv.Itoa(s.Task.TrainExamples)
	case s.Model.Layers > 64: // both parameters and activations grow with depth
		field, value = "model.d_model x model.layers", fmt.Sprintf("%d x %d", s.Model.DModel, s.Model.Layers)
	case p.Activations >= p.Params:
		field, value = "train.batch x task.seq_len", fmt.Sprintf("%d x %s", s.Train.Batch, paramText(s.Task.Params, "seq_len"))
	}
	of, parts := "", fmt.Sprintf("parameters and AdamW state %s, activations %s, data %s", human(p.Params), human(p.Activations), human(p.Data))
	allowed := "smaller sizes, or --max-mem BYTES to set the limit"
	if kind != "" { // the data pools stay on the host
		of, parts = " of "+kind, fmt.Sprintf("parameters and AdamW state %s, activations %s", human(p.Params), human(p.Activations))
		allowed = "smaller sizes, a GPU with more free memory, or --max-mem BYTES to set the limit"
	}
	return &SpecError{File: s.File(), Trial: t.Name, Field: field, Value: value,
		Problem: fmt.Sprintf("needs about %d bytes%s (%s: %s) but %d bytes (%s) are available (%s)", need, of, human(need), parts, limit, human(limit), source),
		Allowed: allowed}
}

// memoryReporter is a backend that can say how much device memory is free
// (the CUDA backend; the CPU is priced against MemAvailable instead).
type memoryReporter interface {
	freeMemory() (int64, error)
}

// checkDevices prices every trial against the free memory of each GPU it
// may train on, before the database is touched; skipped where --max-mem
// sets the limit. Each trial is priced alone: with several workers on one
// GPU, trials of different sizes share it, and the estimate (made to
// refuse what cannot fit by a wide margin) would refuse sweeps that fit if
// it were multiplied by the workers; a worker that runs out of device
// memory fails its trial with what was free, and the others go on.
func checkDevices(prepared []*Prepared, backends []backend, maxMem int64) error {
	if maxMem > 0 {
		return nil
	}
	for _, b := range backends {
		r, ok := b.(memoryReporter)
		if !ok {
			continue
		}
		free, err := r.freeMemory()
		if err != nil {
			return fmt.Errorf("%s: free memory: %w", b.label(), err)
		}
		for _, p := range prepared {
			if err := checkDevicePrice(p.Trial, p.Price, free, b.label()); err != nil {
				return err
			}
		}
	}
	return nil
}

func paramText(params map[string]float64, k string) string {
	if v, ok := params[k]; ok {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return "default"
}

// human spells a byte count in binary units.
func human(b int64) string {
	f := float64(b)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"} {
		if f < 1024 || u == "PiB" {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
		f /= 1024
	}
	return ""
}
