package kernels

import "math"

// normalize standardises the last dim: layer norm without the affine part
// (rms=false), or divides by the root mean square (rms=true).
type normalize struct {
	rms bool
	eps float32
}

func (o normalize) Name() string {
	if o.rms {
		return "rms_normalize"
	}
	return "normalize"
}

// LayerNorm returns (x-mean)/sqrt(var+eps)*gain + bias over the last dim.
func (g *Graph) LayerNorm(x, gain, bias *Node, eps float32) *Node {
	y := g.MulRowVec(g.Apply(normalize{false, eps}, x.Shape, x), gain)
	if bias != nil {
		y = g.AddRowVec(y, bias)
	}
	return y
}

// RMSNormalize returns x/sqrt(mean(x^2)+eps) over the last dim (no gain).
func (g *Graph) RMSNormalize(x *Node, eps float32) *Node {
	return g.Apply(normalize{true, eps}, x.Shape, x)
}

// RMSNorm returns x/sqrt(mean(x^2)+eps)*gain over the last dim.
func (g *Graph) RMSNorm(x, gain *Node, eps float32) *Node {
	return g.MulRowVec(g.Apply(normalize{true, eps}, x.Shape, x), gain)
}

func (o normalize) Backward(g *Graph, n *Node, dy *Node) []*Node {
	return []*Node{g.Apply(normalizeGrad(o), n.Shape, n.In[0], dy)}
}

// rowStats returns the mean (0 for RMS) and 1/scale of a row.
// The float64 sums run in four independent chains (their reassociation
// moves a float64 sum by about 1e-16 of itself, below float32's rounding).
func (o normalize) rowStats(x []float32) (mean, inv float32) {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	if !o.rms {
		mean = float32((s0 + s1 + s2 + s3) / float64(len(x)))
	}
	s0, s1, s2, s3 = 0, 0, 0, 0
	i = 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(v[0]-mean), float64(v[1]-mean), float64(v[2]-mean), float64(v[3]-mean)
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i] - mean)
		s0 += d * d
	}
	ss := s0 + s1 + s2 + s3
	return mean, float32(1 / math.Sqrt(ss/float64(len(x))+float64(o.eps)))
}

func (o normalize) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, y := in[0].Data, out.Data
	nr, c := rows(out.Shape)
	body := func(lo, hi int) {
		if useNative {
			nativeNorm(o, x[lo*c:hi*c], nil, y[lo*c:hi*c], c) // AVX2 in vecmath_amd64.c
			return
		}
		for i := lo; i < hi; i++ {
			xr := x[i*c : (i+1)*c]
			mean, inv := o.rowStats(xr)
			for j, v := range xr {
				y[i*c+j] = (v - mean) * inv
			}
		}
	}
	return func() { r.For(nr, 1+ewGrain/(3*c+1), body) }
}

// normalizeGrad: with xh = normalize(x) and s = 1/scale,
// layer norm: dx = s*(dy - mean(dy) - xh*mean(dy*xh));
// rms norm:   dx = s*(dy - xh*mean(dy*xh)).
type normalizeGrad normalize

func (o normalizeGrad) Name() string { return normalize(o).Name() + "_grad" }

func (o normalizeGrad) Backward(g *Graph, n *Node, dy *Node) []*Node {
	fail("%s: second derivatives are not supported", o.Name())
	return nil
}

func (o normalizeGrad) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, d, dx := in[0].Data, in[1].Data, out.Data
	nr, c := rows(out.Shape)
	fc := float32(c)
	body := func(lo, hi int) {
		if useNative {
			nativeNorm(normalize(o), x[lo*c:hi*c], d[lo*c:hi*c], dx[lo*c:hi*c], c) // AVX2 in vecmath_amd64.c
			return
		}
		for i := lo; i < hi; i++ {
			xr, dr := x[i*c:(i+1)*c], d[i*c:(i+1)*c]
			mean, inv := normalize(o).rowStats(xr)
			var sd, sdx float32
			for j, v := range xr {
				sd += dr[j]
				sdx += dr[j] * (v - mean) * inv
			}
			md, mdx := sd/fc, sdx/fc
			if o.rms {
				md = 0
			}
			for j, v := range xr {
				dx[i*c+j] = inv * (dr[j] - md - (v-mean)*inv*mdx)
			}
		}
	}
	return func() { r.For(nr, 1+ewGrain/(4*c+1), body) }
}
