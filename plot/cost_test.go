package plot

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"lab/store"
)

func TestLogLogSlope(t *testing.T) {
	for _, c := range []struct {
		name     string
		xs, ys   []float64
		slope, b float64
		ok       bool
	}{
		{"quadratic", []float64{64, 128, 256, 512}, []float64{3 * 64 * 64, 3 * 128 * 128, 3 * 256 * 256, 3 * 512 * 512}, 2, math.Log(3), true},
		{"linear", []float64{1, 10, 100}, []float64{5, 50, 500}, 1, math.Log(5), true},
		{"constant", []float64{2, 4}, []float64{7, 7}, 0, math.Log(7), true},
		{"off the line", []float64{1, 2, 4}, []float64{1, 4, 4}, 1, math.Ln2 / 3, true}, // worked by hand
		{"one point", []float64{4}, []float64{2}, 0, 0, false},
		{"same x", []float64{4, 4}, []float64{2, 3}, 0, 0, false},
		{"zero value", []float64{1, 2}, []float64{0, 3}, 0, 0, false},
	} {
		s, b, ok := LogLogSlope(c.xs, c.ys)
		if ok != c.ok || ok && (math.Abs(s-c.slope) > 1e-9 || math.Abs(b-c.b) > 1e-9) {
			t.Errorf("%s: slope %v intercept %v ok %v; want %v %v %v", c.name, s, b, ok, c.slope, c.b, c.ok)
		}
	}
}

func bench(mixer string, l int, metric string, v float64, unit string) store.Bench {
	return store.Bench{Kind: "forward", Mixer: mixer, Device: "cpu", SeqLen: l, Batch: 1, DModel: 8, Metric: metric, Value: v, Unit: unit}
}

func TestCostCurves(t *testing.T) {
	bs := []store.Bench{
		bench("softmax", 64, "time", 4, "ms"), bench("softmax", 64, "time", 100, "ms"), bench("softmax", 64, "time", 5, "ms"),
		bench("softmax", 128, "time", 20, "ms"),
		bench("linear", 64, "time", 1, "ms"), bench("linear", 128, "time", 2, "ms"),
		bench("linear", 128, "peak_memory", 0, "bytes"), // not positive: dropped
		bench("conv", 64, "time", 1, "ms"),
	}
	d, err := CostCurves(bs, "")
	if err != nil || d.Metric != "time" || d.Unit != "ms" || len(d.Series) != 3 {
		t.Fatalf("%+v, %v", d, err)
	}
	conv, lin, soft := d.Series[0], d.Series[1], d.Series[2]
	if conv.Label != "conv" || conv.Fit {
		t.Errorf("conv: %+v", conv)
	}
	if lin.Label != "linear" || !lin.Fit || !near(lin.Slope, 1) {
		t.Errorf("linear: %+v", lin)
	}
	if soft.Points[0] != (CostPoint{SeqLen: 64, Value: 5, N: 3}) || !near(soft.Slope, 2) { // median of 4, 5, 100
		t.Errorf("softmax: %+v", soft)
	}
	if _, err := CostCurves(bs, "peak_memory"); !errors.Is(err, ErrNoData) {
		t.Errorf("no positive memory rows: %v", err)
	}
	// Times in several units are converted to ms; other units are not.
	mixed := append(slices.Clone(bs), bench("linear", 256, "time", 0.01, "s"))
	if d, err := CostCurves(mixed, "time"); err != nil || d.Unit != "ms" || d.Series[1].Points[2] != (CostPoint{SeqLen: 256, Value: 10, N: 1}) || d.PerToken != nil {
		t.Errorf("ms and s: %+v, %v; want linear at L256 10 ms", d, err)
	}
	dec := bench("linear", 512, "time", 250, "us/token")
	dec.Kind = "decode"
	if d, err := CostCurves(append(slices.Clone(bs), dec), "time"); err != nil || d.Unit != "ms" || len(d.PerToken) != 1 || d.PerToken[0] != "decode" ||
		d.Series[1].Label != "linear kind=decode" || d.Series[1].Points[0].Value != 0.25 {
		t.Errorf("ms and us/token: %+v, %v; want decode at 0.25 ms per token", d, err)
	}
	mem := append(slices.Clone(bs), bench("linear", 64, "peak_memory", 3, "bytes"), bench("linear", 128, "peak_memory", 3, "KiB"))
	if _, err := CostCurves(mem, "peak_memory"); err == nil || !strings.Contains(err.Error(), "units") {
		t.Errorf("bytes and KiB: %v; want an error naming the units", err)
	}
	if _, err := CostCurves(append(slices.Clone(bs), bench("linear", 256, "time", 3, "cycles")), "time"); err == nil {
		t.Errorf("ms and cycles accepted")
	}
	gpu := bench("linear", 64, "time", 0.1, "ms")
	gpu.Device = "cuda"
	d, _ = CostCurves(append(bs, gpu), "time")
	if d.Series[1].Label != "linear device=cpu" || d.Series[2].Label != "linear device=cuda" {
		t.Errorf("labels with devices: %q %q", d.Series[1].Label, d.Series[2].Label)
	}
}

func TestFilterBenches(t *testing.T) {
	bs := []store.Bench{bench("a", 64, "time", 1, "ms"), bench("b", 128, "time", 1, "ms"), bench("a", 128, "mem", 1, "B")}
	for _, c := range []struct {
		where []string
		n     int
	}{
		{nil, 3}, {[]string{"mixer=a"}, 2}, {[]string{"mixer!=a"}, 1}, {[]string{"mixer=a", "seq_len=128"}, 1}, {[]string{"metric = time"}, 2},
	} {
		got, err := FilterBenches(bs, c.where)
		if err != nil || len(got) != c.n {
			t.Errorf("%v: %d rows, %v; want %d", c.where, len(got), err, c.n)
		}
	}
	for _, bad := range []string{"mixer", "colour=red", "=a"} {
		if _, err := FilterBenches(bs, []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
