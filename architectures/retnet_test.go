package architectures

import "testing"

// The old layer (no read-out norm, no gate), each half of the new one and
// the q, k, v convs pass the form and gradient checks.
func TestRetNetVariants(t *testing.T) {
	checkVariants(t, []mixerCase{
		{"retnet", "retnet/old", map[string]string{"norm": "false", "gate": "false"}},
		{"retnet", "retnet/norm-only", map[string]string{"gate": "false"}},
		{"retnet", "retnet/gate-only", map[string]string{"norm": "false"}},
		{"retnet", "retnet/qkv_conv", map[string]string{"qkv_conv": "3"}},
	})
}
