package architectures

import "testing"

// The old layers pass the form and gradient checks, short and long: a
// projection in front of the convolution (in_proj=true), no skips
// (skips=false), and both (the layer before 2026-12-07).
func TestBaseConvVariants(t *testing.T) {
	checkVariants(t, []mixerCase{
		{"baseconv", "baseconv/in_proj", map[string]string{"in_proj": "true"}},
		{"baseconv", "baseconv/long-in_proj", map[string]string{"long": "true", "filter_order": "4", "in_proj": "true"}},
		{"baseconv", "baseconv/no-skips", map[string]string{"skips": "false"}},
		{"baseconv", "baseconv/long-no-skips", map[string]string{"long": "true", "filter_order": "4", "skips": "false"}},
		{"baseconv", "baseconv/old", map[string]string{"skips": "false", "in_proj": "true"}},
		{"baseconv", "baseconv/long-old", map[string]string{"long": "true", "filter_order": "4", "skips": "false", "in_proj": "true"}},
		{"baseconv", "baseconv/long-in_proj-skips", map[string]string{"long": "true", "filter_order": "4", "in_proj": "true", "skips": "true"}},
	})
}
