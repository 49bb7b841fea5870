package architectures

import "testing"

// The old layer (a projection in front of the convolution), short and long,
// passes the form and gradient checks.
func TestBaseConvVariants(t *testing.T) {
	checkVariants(t, []mixerCase{
		{"baseconv", "baseconv/in_proj", map[string]string{"in_proj": "true"}},
		{"baseconv", "baseconv/long-in_proj", map[string]string{"long": "true", "filter_order": "4", "in_proj": "true"}},
	})
}
