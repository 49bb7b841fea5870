package main

import (
	"github.com/urfave/cli/v2"

	"lab/kernels/cuda"
)

// precisionFlags are the GEMM precision flags of the commands that train on
// a GPU: --precision, and --tf32=false, its older spelling of fp32.
func precisionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "precision", Value: "tf32", Usage: "CUDA GEMMs: tf32 (tensor cores, 10-bit mantissas), fp32 (plain float32: losses match the CPU to ~1e-6) or bf16 (bfloat16 operands, float32 sums)"},
		&cli.BoolFlag{Name: "tf32", Value: true, Usage: "CUDA: --tf32=false is --precision fp32"},
	}
}

// precisionOf reads the precision flags; contradictory ones are bad input,
// and so is either flag set with a CPU device (onCUDA false), where GEMMs are
// always float32 and the precision would silently mean nothing.
func precisionOf(c *cli.Context, onCUDA bool) (cuda.Precision, error) {
	p, err := cuda.ParsePrecision(c.String("precision"))
	if err != nil {
		return 0, usageErr("--precision: %v", err)
	}
	if c.IsSet("tf32") {
		tf := cuda.FP32
		if c.Bool("tf32") {
			tf = cuda.TF32
		}
		if c.IsSet("precision") && p != tf {
			return 0, usageErr("--tf32=%v and --precision %s contradict each other; use --precision alone", c.Bool("tf32"), p)
		}
		p = tf
	}
	if !onCUDA {
		for _, f := range []string{"precision", "tf32"} {
			if c.IsSet(f) {
				return 0, usageErr("--%s applies only to CUDA devices; the CPU computes in float32 (drop --%s or use --device cuda)", f, f)
			}
		}
	}
	return p, nil
}
