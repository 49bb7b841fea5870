package cuda

// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Device is an open GPU: its primary context, retained until Close.
type Device struct {
	Info DeviceInfo
	api  *driverAPI
	dev  C.CUdevice
	ctx  C.CUcontext

	kmu  sync.Mutex
	kern *Kernels // loaded once for every Program on the device

	// capMu keeps the calls that implicitly synchronise with every stream
	// (the synchronous copies on the legacy stream, allocation and release,
	// context synchronisation, cuBLAS handle set-up) out of the window in
	// which another goroutine captures a stream into a CUDA graph: made
	// during a capture they would fail with CUDA_ERROR_STREAM_CAPTURE_IMPLICIT
	// and invalidate it. Those calls share it (shared); Capture holds it
	// alone. Several trials on one GPU (lab run --workers) need it.
	capMu sync.RWMutex
}

// shared is call, outside any capture on the device. Calls made while
// recording a capture must not use it (they would wait on themselves).
func (d *Device) shared(name string, f func() C.CUresult) error {
	d.capMu.RLock()
	defer d.capMu.RUnlock()
	return d.call(name, f)
}

// sharedKernels loads the kernels once per device; Close unloads them.
func (d *Device) sharedKernels() (*Kernels, error) {
	d.kmu.Lock()
	defer d.kmu.Unlock()
	if d.kern == nil {
		k, err := d.LoadKernels()
		if err != nil {
			return nil, err
		}
		d.kern = k
	}
	return d.kern, nil
}

// Open retains the primary context of device index.
func Open(index int) (*Device, error) {
	a, err := driver()
	if err != nil {
		return nil, err
	}
	info, err := deviceInfo(index)
	if err != nil {
		return nil, err
	}
	d := &Device{Info: info, api: a}
	if r := C.lab_cuDeviceGet(a.deviceGet, &d.dev, C.int(index)); r != 0 {
		return nil, a.err("cuDeviceGet", r)
	}
	if r := C.lab_cuPrimaryCtxRetain(a.primaryCtxRetain, &d.ctx, d.dev); r != 0 {
		return nil, a.err("cuDevicePrimaryCtxRetain", r)
	}
	return d, nil
}

// enter locks the goroutine to its OS thread and makes the device's context
// current there; every driver call happens between enter and leave.
func (d *Device) enter() error {
	runtime.LockOSThread()
	if r := C.lab_cuHandleArg(d.api.ctxSetCurrent, unsafe.Pointer(d.ctx)); r != 0 {
		runtime.UnlockOSThread()
		return d.api.err("cuCtxSetCurrent", r)
	}
	return nil
}

func (d *Device) leave() { runtime.UnlockOSThread() }

// call runs f with the context current and turns a failure into an Error.
func (d *Device) call(name string, f func() C.CUresult) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if r := f(); r != 0 {
		return d.api.err(name, r)
	}
	return nil
}

// Close releases the primary context. Memory, streams and modules made on
// the device must be freed first.
func (d *Device) Close() error {
	if d.ctx == nil {
		return nil
	}
	if d.kern != nil {
		d.kern.Close()
		d.kern = nil
	}
	if r := C.lab_cuDeviceArg(d.api.primaryCtxRelease, d.dev); r != 0 {
		return d.api.err("cuDevicePrimaryCtxRelease", r)
	}
	d.ctx = nil
	return nil
}

// Sync waits for all work on the device to finish and reports any error a
// kernel raised asynchronously.
func (d *Device) Sync() error {
	return d.shared("cuCtxSynchronize", func() C.CUresult { return C.lab_cuVoid(d.api.ctxSynchronize) })
}

// MemInfo returns the free and total device memory in bytes.
func (d *Device) MemInfo() (free, total int64, err error) {
	var f, t C.size_t
	err = d.shared("cuMemGetInfo", func() C.CUresult { return C.lab_cuMemGetInfo(d.api.memGetInfo, &f, &t) })
	return int64(f), int64(t), err
}

// Buffer is a range of device memory. The zero Buffer is "none" (a null
// pointer), which kernels taking an optional input accept.
type Buffer struct {
	Ptr   uint64 // device address
	Bytes int64
}

// Floats is the number of float32 (or int32) elements the buffer holds.
func (b Buffer) Floats() int { return int(b.Bytes / 4) }

// Slice returns the part of b from element lo (4-byte units) to hi.
func (b Buffer) Slice(lo, hi int) Buffer {
	if lo < 0 || hi < lo || int64(hi)*4 > b.Bytes {
		panic(fmt.Sprintf("cuda: Buffer.Slice(%d, %d) of %d elements", lo, hi, b.Floats()))
	}
	return Buffer{Ptr: b.Ptr + uint64(lo)*4, Bytes: int64(hi-lo) * 4}
}

// Alloc allocates device memory (cuMemAlloc, never managed memory).
func (d *Device) Alloc(bytes int64) (Buffer, error) {
	if bytes <= 0 {
		return Buffer{}, fmt.Errorf("cuda: Alloc(%d): size must be positive", bytes)
	}
	var p C.CUdeviceptr
	err := d.shared("cuMemAlloc", func() C.CUresult { return C.lab_cuMemAlloc(d.api.memAlloc, &p, C.size_t(bytes)) })
	if err != nil {
		return Buffer{}, fmt.Errorf("%w (asked for %d bytes)", err, bytes)
	}
	return Buffer{Ptr: uint64(p), Bytes: bytes}, nil
}

// AllocFloats allocates room for n float32 (or int32) values.
func (d *Device) AllocFloats(n int) (Buffer, error) { return d.Alloc(int64(n) * 4) }

// Free releases a buffer made by Alloc.
func (d *Device) Free(b Buffer) error {
	if b.Ptr == 0 {
		return nil
	}
	return d.shared("cuMemFree", func() C.CUresult { return C.lab_cuMemFree(d.api.memFree, C.CUdeviceptr(b.Ptr)) })
}

func (d *Device) htod(dst Buffer, src unsafe.Pointer, bytes int64) error {
	if bytes > dst.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes into a buffer of %d", bytes, dst.Bytes)
	}
	if bytes == 0 {
		return nil
	}
	return d.shared("cuMemcpyHtoD", func() C.CUresult {
		return C.lab_cuMemcpyHtoD(d.api.memcpyHtoD, C.CUdeviceptr(dst.Ptr), src, C.size_t(bytes))
	})
}

func (d *Device) dtoh(dst unsafe.Pointer, src Buffer, bytes int64) error {
	if bytes > src.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes out of a buffer of %d", bytes, src.Bytes)
	}
	if bytes == 0 {
		return nil
	}
	return d.shared("cuMemcpyDtoH", func() C.CUresult {
		return C.lab_cuMemcpyDtoH(d.api.memcpyDtoH, dst, C.CUdeviceptr(src.Ptr), C.size_t(bytes))
	})
}

// CopyInAsync queues a copy of src to the start of dst on s, after the
// work already queued there: only s waits for it, not the other streams.
// src may be reused when it returns (pageable memory is staged first).
func (d *Device) CopyInAsync(s *Stream, dst Buffer, src []int32) error {
	bytes := int64(len(src)) * 4
	if bytes > dst.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes into a buffer of %d", bytes, dst.Bytes)
	}
	if bytes == 0 {
		return nil
	}
	return d.call("cuMemcpyHtoDAsync", func() C.CUresult {
		return C.lab_cuMemcpyHtoDAsync(d.api.memcpyHtoDAsync, C.CUdeviceptr(dst.Ptr), unsafe.Pointer(&src[0]), C.size_t(bytes), s.handle())
	})
}

// CopyOutSync copies the start of src into dst after the work queued on s
// and waits for it: only s is waited for, not the device's other streams.
func (d *Device) CopyOutSync(s *Stream, dst []float32, src Buffer) error {
	if len(dst) == 0 {
		return nil
	}
	return d.copyOutSync(s, unsafe.Pointer(&dst[0]), int64(len(dst))*4, src)
}

// CopyOutIntsSync is CopyOutSync for integer values.
func (d *Device) CopyOutIntsSync(s *Stream, dst []int32, src Buffer) error {
	if len(dst) == 0 {
		return nil
	}
	return d.copyOutSync(s, unsafe.Pointer(&dst[0]), int64(len(dst))*4, src)
}

func (d *Device) copyOutSync(s *Stream, dst unsafe.Pointer, bytes int64, src Buffer) error {
	if bytes > src.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes out of a buffer of %d", bytes, src.Bytes)
	}
	if bytes == 0 {
		return nil
	}
	if err := d.call("cuMemcpyDtoHAsync", func() C.CUresult {
		return C.lab_cuMemcpyDtoHAsync(d.api.memcpyDtoHAsync, dst, C.CUdeviceptr(src.Ptr), C.size_t(bytes), s.handle())
	}); err != nil {
		return err
	}
	return s.Sync()
}

// CopyIn copies src to the start of dst (synchronous with respect to the
// host; ordered after work already queued on the legacy default stream).
func (d *Device) CopyIn(dst Buffer, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return d.htod(dst, unsafe.Pointer(&src[0]), int64(len(src))*4)
}

// CopyInInts copies integer values (token ids, targets) to dst.
func (d *Device) CopyInInts(dst Buffer, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return d.htod(dst, unsafe.Pointer(&src[0]), int64(len(src))*4)
}

// CopyOut copies the start of src into dst, waiting for queued work first.
func (d *Device) CopyOut(dst []float32, src Buffer) error {
	if len(dst) == 0 {
		return nil
	}
	return d.dtoh(unsafe.Pointer(&dst[0]), src, int64(len(dst))*4)
}

// CopyOutInts copies integer values out of src into dst.
func (d *Device) CopyOutInts(dst []int32, src Buffer) error {
	if len(dst) == 0 {
		return nil
	}
	return d.dtoh(unsafe.Pointer(&dst[0]), src, int64(len(dst))*4)
}

// Upload allocates a buffer holding a copy of src.
func (d *Device) Upload(src []float32) (Buffer, error) {
	b, err := d.AllocFloats(max(1, len(src)))
	if err != nil {
		return Buffer{}, err
	}
	if err := d.CopyIn(b, src); err != nil {
		d.Free(b)
		return Buffer{}, err
	}
	return b, nil
}

// UploadInts allocates a buffer holding a copy of integer values.
func (d *Device) UploadInts(src []int32) (Buffer, error) {
	b, err := d.AllocFloats(max(1, len(src)))
	if err != nil {
		return Buffer{}, err
	}
	if err := d.CopyInInts(b, src); err != nil {
		d.Free(b)
		return Buffer{}, err
	}
	return b, nil
}

// Download returns the first n float32 values of src.
func (d *Device) Download(src Buffer, n int) ([]float32, error) {
	out := make([]float32, n)
	return out, d.CopyOut(out, src)
}
