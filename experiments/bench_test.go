package experiments

import (
	"testing"

	"lab/kernels"
)

// BenchmarkQuickstartStep times one training step (forward, backward, AdamW)
// of the quickstart model per mixer and reports allocations per step.
func BenchmarkQuickstartStep(b *testing.B) {
	spec, err := Load("quickstart.yaml")
	if err != nil {
		b.Fatal(err)
	}
	trials, err := spec.Expand()
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range trials {
		b.Run(t.Spec.Model.Mixer, func(b *testing.B) {
			p, err := Prepare(t)
			if err != nil {
				b.Fatal(err)
			}
			st, err := newStepper(p, cpuBackend{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			st.step() // warm up: first-touch of every buffer
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st.step()
			}
		})
	}
	_ = kernels.Threads
}
