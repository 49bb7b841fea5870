package kernels

import "math"

// Activation names an elementwise function with a known derivative.
type Activation int

// The elementwise functions.
const (
	GELU     Activation = iota // tanh approximation, as GPT-2 and Zoology use
	SiLU                       // x*sigmoid(x)
	ELU1                       // elu(x)+1, the linear-attention feature map
	ReLU                       // max(x, 0)
	Exp                        // e^x
	Sigmoid                    // 1/(1+e^-x)
	Recip                      // 1/x
	Square                     // x^2
	Log                        // ln x
	Softplus                   // ln(1+e^x)
	Tanh                       // tanh(x)
)

var actNames = [...]string{"gelu", "silu", "elu1", "relu", "exp", "sigmoid", "recip", "square", "log", "softplus", "tanh"}

func (a Activation) String() string { return actNames[a] }

const geluC = 0.7978845608028654 // sqrt(2/pi)

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Eval computes f(x).
func (a Activation) Eval(x float32) float32 {
	v := float64(x)
	switch a {
	case GELU:
		return float32(0.5 * v * (1 + math.Tanh(geluC*(v+0.044715*v*v*v))))
	case SiLU:
		return float32(v * sigmoid(v))
	case ELU1:
		if v > 0 {
			return float32(v + 1)
		}
		return float32(math.Exp(v))
	case ReLU:
		return max(x, 0)
	case Exp:
		return float32(math.Exp(v))
	case Sigmoid:
		return float32(sigmoid(v))
	case Recip:
		return 1 / x
	case Square:
		return x * x
	case Log:
		return float32(math.Log(v))
	case Tanh:
		return float32(math.Tanh(v))
	default: // Softplus
		if v > 20 {
			return x
		}
		return float32(math.Log1p(math.Exp(v)))
	}
}

// Deriv computes f'(x).
func (a Activation) Deriv(x float32) float32 {
	v := float64(x)
	switch a {
	case GELU:
		u := geluC * (v + 0.044715*v*v*v)
		t := math.Tanh(u)
		du := geluC * (1 + 3*0.044715*v*v)
		return float32(0.5*(1+t) + 0.5*v*(1-t*t)*du)
	case SiLU:
		s := sigmoid(v)
		return float32(s * (1 + v*(1-s)))
	case ELU1:
		if v > 0 {
			return 1
		}
		return float32(math.Exp(v))
	case ReLU:
		if x > 0 {
			return 1
		}
		return 0
	case Exp:
		return float32(math.Exp(v))
	case Sigmoid:
		s := sigmoid(v)
		return float32(s * (1 - s))
	case Recip:
		return -1 / (x * x)
	case Square:
		return 2 * x
	case Log:
		return 1 / x
	case Tanh:
		t := math.Tanh(v)
		return float32(1 - t*t)
	default:
		return float32(sigmoid(v))
	}
}

type unary struct{ a Activation }

func (o unary) Name() string { return o.a.String() }

// Act applies an elementwise function.
func (g *Graph) Act(a Activation, x *Node) *Node { return g.Apply(unary{a}, x.Shape, x) }

func (o unary) Backward(g *Graph, n *Node, dy *Node) []*Node {
	return []*Node{g.Apply(unaryGrad{o.a}, dy.Shape, n.In[0], dy)}
}

func (o unary) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, y := in[0].Data, out.Data
	body := func(lo, hi int) { o.a.evalSlice(x[lo:hi], y[lo:hi]) }
	return func() { r.For(len(y), ewGrain/8, body) }
}

// unaryGrad computes dy * f'(x).
type unaryGrad struct{ a Activation }

func (o unaryGrad) Name() string { return o.a.String() + "_grad" }

func (o unaryGrad) Backward(g *Graph, n *Node, dy *Node) []*Node {
	fail("%s: second derivatives are not supported", o.Name())
	return nil
}

func (o unaryGrad) Kernel(r *Runner, out *Tensor, in []*Tensor) func() {
	x, d, y := in[0].Data, in[1].Data, out.Data
	body := func(lo, hi int) { o.a.gradSlice(x[lo:hi], d[lo:hi], y[lo:hi]) }
	return func() { r.For(len(y), ewGrain/8, body) }
}

// evalSlice is y = f(x) with the hot activations unrolled out of the switch.
func (a Activation) evalSlice(x, y []float32) {
	y = y[:len(x)]
	if useNative && nativeAct(a, x, nil, y) {
		return // GELU, SiLU, ELU1, exp, sigmoid: AVX2 in vecmath_amd64.c, held to Eval by tests
	}
	switch a {
	case GELU:
		for i, xv := range x {
			v := float64(xv)
			y[i] = float32(0.5 * v * (1 + math.Tanh(geluC*(v+0.044715*v*v*v))))
		}
	case ReLU:
		for i, v := range x {
			y[i] = max(v, 0)
		}
	default:
		for i, v := range x {
			y[i] = a.Eval(v)
		}
	}
}

// gradSlice is y = d * f'(x).
func (a Activation) gradSlice(x, d, y []float32) {
	y, d = y[:len(x)], d[:len(x)]
	if useNative && nativeAct(a, x, d, y) {
		return // also softplus: AVX2 in vecmath_amd64.c, held to Deriv by tests
	}
	switch a {
	case GELU:
		for i, xv := range x {
			v := float64(xv)
			t := math.Tanh(geluC * (v + 0.044715*v*v*v))
			du := geluC * (1 + 3*0.044715*v*v)
			y[i] = d[i] * float32(0.5*(1+t)+0.5*v*(1-t*t)*du)
		}
	case ReLU:
		for i, v := range x {
			if v > 0 {
				y[i] = d[i]
			} else {
				y[i] = 0
			}
		}
	default:
		for i, v := range x {
			y[i] = d[i] * a.Deriv(v)
		}
	}
}
