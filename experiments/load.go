package experiments

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// LoadChecked loads a spec and prepares every trial of its sweep, so bad
// input is reported before anything is written; a trial estimated to need
// more than maxMem bytes (0: MemAvailable) is refused before its weights
// are allocated.
func LoadChecked(path string, maxMem int64) (*Spec, []Trial, error) {
	spec, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	trials, err := spec.Expand()
	if err != nil {
		return nil, nil, err
	}
	for _, t := range trials {
		if _, err := PrepareWithin(t, maxMem); err != nil {
			return nil, nil, err
		}
	}
	return spec, trials, nil
}

// ParseBytes reads a memory size: a positive number of bytes, optionally
// with a binary unit (KiB, MiB, GiB, TiB; a trailing B alone is bytes),
// e.g. "16GiB", "0.5 TiB", "1e9". It rejects zero, negatives, NaN and
// sizes past int64.
func ParseBytes(s string) (int64, error) {
	v := strings.TrimSpace(s)
	mult := int64(1)
	for i, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if rest, ok := strings.CutSuffix(v, u); ok {
			v, mult = strings.TrimSpace(rest), int64(1)<<(10*(i+1))
			break
		}
	}
	v = strings.TrimSuffix(v, "B")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: want a positive size such as 16GiB, 512MiB or 1000000 (bytes)", s)
	}
	return int64(f * float64(mult)), nil
}
