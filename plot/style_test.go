package plot

import (
	"slices"
	"testing"

	"lab/architectures"
)

// Every registered mixer has its own fixed colour, no palette colour is a
// grey or repeated, and the key's grey is none of them.
func TestMixerPalette(t *testing.T) {
	names := architectures.Names()
	slots := map[int]string{}
	for _, n := range names {
		i, ok := mixerSlot[n]
		if !ok {
			t.Errorf("mixer %q has no fixed colour in mixerSlot", n)
			continue
		}
		if o, dup := slots[i]; dup {
			t.Errorf("%q and %q share colour %d", o, n, i)
		}
		if i < 0 || i >= len(palette) {
			t.Errorf("%q: slot %d outside the palette of %d", n, i, len(palette))
		}
		slots[i] = n
	}
	for n := range mixerSlot {
		if !slices.Contains(names, n) {
			t.Errorf("mixerSlot names %q, which is not a registered mixer", n)
		}
	}
	for i, c := range palette {
		if c.R == c.G && c.G == c.B {
			t.Errorf("palette[%d] %v is a grey", i, c)
		}
		if c == keyGray {
			t.Errorf("palette[%d] is the key's grey", i)
		}
		if j := slices.Index(palette, c); j != i {
			t.Errorf("palette[%d] repeats palette[%d]", i, j)
		}
	}
}

// A mixer's colour depends on the mixer alone: its arguments and spaces do
// not change it; a hybrid has one colour for its whole mix.
func TestMixerKey(t *testing.T) {
	for in, want := range map[string]string{
		"softmax":                      "softmax",
		"softmax(conv=2)":              "softmax",
		" swa( window = 32 ) ":         "swa",
		"linear(feature=elu1, conv=2)": "linear",
		"gla*3, softmax":               "gla*3,softmax",
		"(gla, softmax)*2":             "(gla,softmax)*2",
		"linear + swa(window=32)":      "linear+swa(window=32)",
		"softmax(conv=2), gla(rank=4)": "softmax(conv=2),gla(rank=4)",
		"softmax(conv=2)*2":            "softmax(conv=2)*2",
		"?":                            "?",
		"":                             "",
		"softmax(":                     "softmax(",
		"mamba(d_state=16)(x)":         "mamba(d_state=16)(x)",
	} {
		if got := mixerKey(in); got != want {
			t.Errorf("mixerKey(%q) = %q, want %q", in, got, want)
		}
	}
	if mixerColor("softmax(conv=2)") != mixerColor("softmax") || mixerColor("gla*3, softmax") != mixerColor("gla*3,softmax") {
		t.Error("a mixer's colour changes with its arguments or spaces")
	}
}
