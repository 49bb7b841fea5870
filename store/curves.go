package store

import "strings"

// Curve sums up one logged metric of a run, as `lab show` prints it: how
// many points, the first and last values with their steps, and the best
// value (the highest for a metric whose name ends in "accuracy", the lowest
// for any other, such as a loss).
type Curve struct {
	Name                string
	Points              int
	First, Last, Best   float64
	FirstStep, LastStep int
}

// Curves sums up each metric of ms (in the order Metrics returns them: by
// step), one Curve per name in the order each name first appears.
func Curves(ms []Metric) []Curve {
	index := map[string]int{}
	var out []Curve
	for _, m := range ms {
		i, ok := index[m.Name]
		if !ok {
			i = len(out)
			index[m.Name] = i
			out = append(out, Curve{Name: m.Name, First: m.Value, FirstStep: m.Step, Best: m.Value})
		}
		c := &out[i]
		c.Last, c.LastStep = m.Value, m.Step
		c.Points++
		if strings.HasSuffix(m.Name, "accuracy") {
			c.Best = max(c.Best, m.Value)
		} else {
			c.Best = min(c.Best, m.Value)
		}
	}
	return out
}
