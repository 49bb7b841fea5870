// Package cuda is lab's CUDA backend: the driver API, NVRTC and cuBLAS,
// opened at run time with dlopen so that the build never needs CUDA.
//
// The pieces, bottom up:
//
//   - Loading (dl.go): libcuda.so.1, libnvrtc.so.{13,12,11} and
//     libcublas.so.{13,12} are searched in the loader path, $CUDA_HOME,
//     $CUDA_PATH and /usr/local/cuda; a missing library is an error that
//     names it and every place looked.
//   - Driver (driver.go, device.go, stream.go, module.go): devices, the
//     primary context, device memory, streams, events, modules, kernel
//     launches and CUDA graphs (stream capture).
//   - NVRTC (nvrtc.go): run-time compilation of the .cu sources embedded
//     from kernels/, cached on disk.
//   - cuBLAS (cublas.go, gemm.go): row-major Sgemm and strided batched
//     Sgemm, TF32 tensor-core math by default; a program's Precision picks
//     TF32, plain float32 or bfloat16 operands (GemmEx) for all its GEMMs.
//   - Kernels (ops.go, lower*.go, kernels/*.cu): a device kernel for every
//     op of package kernels; each has a slow CPU twin, the op with the same
//     name, and the tests compare the two on fresh random inputs.
//   - Programs (program.go, plan.go, lower.go, fuse.go): Compile turns a
//     kernels.Graph into a Program, the CPU Program's twin: parameters
//     uploaded once, buffers planned once, a few op chains fused (fuse.go,
//     fuse_norm.go), the
//     schedule captured as one CUDA graph after its first run.
//   - AdamW (optimizer.go, kernels/adam.cu): the twin of kernels.Optimizer
//     on the device; TrainStep runs forward, backward and update as one
//     graph launch.
//
// Every driver call binds the device's primary context to the calling OS
// thread first, so a *Device may be used from any goroutine, though not
// from several at once.
package cuda
