package experiments

import (
	"fmt"
	"strconv"
	"strings"

	"lab/kernels/cuda"
)

// DeviceSpec is a parsed --device: the CPU, or one or more CUDA GPUs by
// index. With several GPUs a sweep trains one trial on each at a time.
type DeviceSpec struct {
	CUDA    bool
	Indices []int // CUDA device indices in the order listed (CUDA only)
}

// String is the canonical spelling: cpu, cuda:0, cuda:0,cuda:1.
func (d DeviceSpec) String() string {
	if !d.CUDA {
		return "cpu"
	}
	parts := make([]string, len(d.Indices))
	for i, x := range d.Indices {
		parts[i] = "cuda:" + strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

const deviceForms = "cpu, cuda (GPU 0), cuda:N, or a list of GPUs such as cuda:0,cuda:1"

// ParseDevice reads a --device value. Bad input is a *SpecError (one line,
// exit status 2 in the CLI). It does not look for GPUs: Probe does.
func ParseDevice(s string) (DeviceSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "cpu" {
		return DeviceSpec{}, nil
	}
	bad := func(problem string) error {
		return &SpecError{Field: "--device", Value: strconv.Quote(s), Problem: problem, Allowed: deviceForms}
	}
	d := DeviceSpec{CUDA: true}
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		var idx int
		switch {
		case part == "":
			return DeviceSpec{}, bad("an empty entry in the list")
		case part == "cpu":
			return DeviceSpec{}, bad("cpu cannot be listed with GPUs")
		case part == "cuda":
			idx = 0
		case strings.HasPrefix(part, "cuda:"):
			n := part[len("cuda:"):]
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 || n == "" || n[0] == '+' || n[0] == '-' {
				return DeviceSpec{}, bad(fmt.Sprintf("%q: the GPU index must be a non-negative integer", part))
			}
			idx = v
		default:
			return DeviceSpec{}, bad(fmt.Sprintf("unknown device %q", part))
		}
		if seen[idx] {
			return DeviceSpec{}, bad(fmt.Sprintf("GPU %d listed twice", idx))
		}
		seen[idx] = true
		d.Indices = append(d.Indices, idx)
	}
	return d, nil
}

// Probe checks that the listed GPUs can be used: the CUDA driver, NVRTC and
// cuBLAS load, and every index names a device. It opens no context and
// writes nothing. A missing library is an error naming it and every place
// looked (exit status 1: the machine lacks it); an index past the last GPU
// is a *SpecError (exit status 2). It returns the devices listed, in order.
func (d DeviceSpec) Probe() ([]cuda.DeviceInfo, error) {
	if !d.CUDA {
		return nil, nil
	}
	all, err := cuda.Devices()
	if err != nil {
		return nil, fmt.Errorf("--device %s: no usable CUDA device: %w", d, err)
	}
	if _, _, _, err := cuda.NVRTCVersion(); err != nil {
		return nil, fmt.Errorf("--device %s: CUDA kernels cannot be compiled: %w", d, err)
	}
	if _, err := cuda.CUBLASPath(); err != nil {
		return nil, fmt.Errorf("--device %s: %w", d, err)
	}
	var out []cuda.DeviceInfo
	for _, i := range d.Indices {
		if i >= len(all) {
			return nil, &SpecError{Field: "--device", Value: d.String(),
				Problem: fmt.Sprintf("GPU %d does not exist: this machine has %d (cuda:0..cuda:%d; see `lab devices`)", i, len(all), len(all)-1)}
		}
		out = append(out, all[i])
	}
	return out, nil
}

// DeviceLabel is how a run row records the GPU it trained on, e.g.
// "cuda:0 (NVIDIA H100 80GB HBM3)", with ", fp32" or ", bf16" when the
// GEMMs are not the default TF32.
func DeviceLabel(info cuda.DeviceInfo, prec cuda.Precision) string {
	s := fmt.Sprintf("cuda:%d (%s", info.Index, info.Name)
	if prec != cuda.TF32 {
		s += ", " + prec.String()
	}
	return s + ")"
}
