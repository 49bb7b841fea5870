package bench

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"lab/kernels/cuda"
)

// The tables below are also printed by scripts/torch_reference.py, column
// for column, so that one device run shows lab and PyTorch side by side:
// keep the two in step.

// cell is one shape's time as printed: milliseconds, "oom" or "error".
func (r TrainResult) cell() string {
	if r.Err != nil {
		var ce *cuda.Error
		if errors.As(r.Err, &ce) && ce.Code == cuda.ErrOutOfMemory {
			return "oom"
		}
		return "error"
	}
	return strconv.FormatFloat(r.MS, 'f', 2, 64)
}

// shapes returns the mixers and widths in first-seen order, and the result
// of each (mixer, d, L).
func shapes(rs []TrainResult) (rows [][2]string, at map[[3]string]TrainResult) {
	at = map[[3]string]TrainResult{}
	seen := map[[2]string]bool{}
	for _, r := range rs {
		k := [2]string{r.Mixer, strconv.Itoa(r.DModel)}
		if !seen[k] {
			seen[k] = true
			rows = append(rows, k)
		}
		at[[3]string{k[0], k[1], strconv.Itoa(r.SeqLen)}] = r
	}
	return rows, at
}

// WriteTrainTable prints ms per step, one row per (impl, mixer, d), one
// column per length:
//
//	impl           mixer                        d     L=64    L=256   L=1024
//	lab            softmax                     64     0.88     2.16     8.88
func WriteTrainTable(w io.Writer, impl string, rs []TrainResult, lengths []int, header bool) {
	if header {
		fmt.Fprintf(w, "%-14s %-26s %5s", "impl", "mixer", "d")
		for _, l := range lengths {
			fmt.Fprintf(w, " %8s", "L="+strconv.Itoa(l))
		}
		fmt.Fprintln(w)
	}
	rows, at := shapes(rs)
	for _, k := range rows {
		fmt.Fprintf(w, "%-14s %-26s %5s", impl, k[0], k[1])
		for _, c := range rowCells(at, k, lengths) {
			fmt.Fprintf(w, " %8s", c)
		}
		fmt.Fprintln(w)
	}
}

// WriteTrainDetails prints one line per shape: median and fastest ms,
// planned and device memory in GiB, parameters and the loss after the
// steps; then the error of each shape that failed.
func WriteTrainDetails(w io.Writer, impl string, rs []TrainResult, header bool) {
	if header {
		fmt.Fprintf(w, "%-14s %-26s %5s %6s %9s %9s %11s %10s %10s %9s\n", "impl", "mixer", "d", "L", "ms", "min_ms", "planned_gib", "device_gib", "params", "loss")
	}
	for _, r := range rs {
		fmt.Fprintf(w, "%-14s %-26s %5d %6d %9s %9s %11s %10s %10d %9s\n", impl, r.Mixer, r.DModel, r.SeqLen, r.cell(),
			num(r.MinMS, 3, r.Err), gibs(r.PlannedBytes, r.Err), gibs(r.DeviceBytes, r.Err), r.Params, num(r.Loss, 4, r.Err))
	}
	for _, r := range rs {
		if r.Err != nil {
			fmt.Fprintf(w, "%s %s d=%d L=%d: %s\n", impl, r.Mixer, r.DModel, r.SeqLen, firstLine(r.Err.Error()))
		}
	}
}

func num(v float64, prec int, err error) string {
	if err != nil {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// exact spells v in its shortest form that parses back to the same float64.
func exact(v float64, err error) string {
	if err != nil {
		return "-"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func gibs(b int64, err error) string {
	if err != nil || b <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(b)/(1<<30), 'f', 3, 64)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// WriteTrainCSV writes one row per shape with a header; floats in their
// shortest exact form.
func WriteTrainCSV(w io.Writer, impl string, rs []TrainResult) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"impl", "device", "mixer", "d_model", "seq_len", "ms", "min_ms", "planned_bytes", "device_bytes", "params", "loss", "error"})
	for _, r := range rs {
		e := ""
		if r.Err != nil {
			e = firstLine(r.Err.Error())
		}
		cw.Write([]string{impl, r.Device, r.Mixer, strconv.Itoa(r.DModel), strconv.Itoa(r.SeqLen), exact(r.MS, r.Err), exact(r.MinMS, r.Err),
			strconv.FormatInt(r.PlannedBytes, 10), strconv.FormatInt(r.DeviceBytes, 10), strconv.FormatInt(r.Params, 10), exact(r.Loss, r.Err), e})
	}
	cw.Flush()
	return cw.Error()
}

// WriteTrainMarkdown writes the ms-per-step table as Markdown.
func WriteTrainMarkdown(w io.Writer, impl string, rs []TrainResult, lengths []int) {
	fmt.Fprint(w, "| impl | mixer | d_model |")
	for _, l := range lengths {
		fmt.Fprintf(w, " L=%d |", l)
	}
	fmt.Fprint(w, "\n|---|---|---|")
	for range lengths {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	rows, at := shapes(rs)
	for _, k := range rows {
		fmt.Fprintf(w, "| %s | %s | %s |", impl, k[0], k[1])
		for _, c := range rowCells(at, k, lengths) {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintln(w)
	}
}

// TrainHeader describes the workload in one line, as the reference
// script does.
func (c *TrainConfig) TrainHeader(device string) string {
	tf := "GEMMs " + c.PrecisionName()
	targets := "head at every position"
	if c.TargetFrac < 1 {
		targets = fmt.Sprintf("head at %g of positions", c.TargetFrac)
	}
	heads := "heads"
	if c.Heads == 1 {
		heads = "head"
	}
	return fmt.Sprintf("device: %s; batch %d, vocab %d, %d layers, %d %s, MLP %dx GELU, %s, learned positions, %s, AdamW, %s; median of %d steps after %d warm-up",
		device, c.Batch, c.Vocab, c.Layers, c.Heads, heads, c.MLPRatio, c.Norm, targets, tf, c.Reps, c.Warmup)
}

// PrecisionName is the GEMM precision as tables and records name it:
// "tf32", "fp32" or "bf16" on CUDA, "fp32" on the CPU.
func (c *TrainConfig) PrecisionName() string {
	if !c.CUDA {
		return "fp32"
	}
	return c.Precision.String()
}

// rowCells is one table row's cells, a length each ("-" where that shape
// was not run).
func rowCells(at map[[3]string]TrainResult, k [2]string, lengths []int) []string {
	cells := make([]string, len(lengths))
	for i, l := range lengths {
		cells[i] = "-"
		if r, ok := at[[3]string{k[0], k[1], strconv.Itoa(l)}]; ok {
			cells[i] = r.cell()
		}
	}
	return cells
}
