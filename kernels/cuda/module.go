package cuda

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Module is loaded device code (a CUBIN, or PTX that the driver compiles).
type Module struct {
	d *Device
	m C.CUmodule
}

// LoadModule loads a CUBIN or PTX image into the device's context.
func (d *Device) LoadModule(image []byte) (*Module, error) {
	if len(image) == 0 {
		return nil, fmt.Errorf("cuda: LoadModule: empty image")
	}
	if image[len(image)-1] != 0 && !isELF(image) {
		image = append(image[:len(image):len(image)], 0) // PTX is read as a C string
	}
	m := &Module{d: d}
	err := d.call("cuModuleLoadData", func() C.CUresult {
		return C.lab_cuModuleLoadData(d.api.moduleLoadData, &m.m, unsafe.Pointer(&image[0]))
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func isELF(b []byte) bool { return len(b) >= 4 && string(b[:4]) == "\x7fELF" }

// Close unloads the module; its functions become invalid.
func (m *Module) Close() error {
	if m == nil || m.m == nil {
		return nil
	}
	err := m.d.call("cuModuleUnload", func() C.CUresult { return C.lab_cuHandleArg(m.d.api.moduleUnload, unsafe.Pointer(m.m)) })
	m.m = nil
	return err
}

// Function is a kernel entry point of a module.
type Function struct {
	d    *Device
	f    C.CUfunction
	Name string
	// MaxThreads is the largest block this kernel can be launched with
	// (its register use may make it less than the device's limit).
	MaxThreads int
	// Regs is the registers per thread; LocalBytes the local memory per
	// thread (more than 0: the compiler spilled, or an array was not kept
	// in registers).
	Regs, LocalBytes int
}

// Function looks up an extern "C" kernel by name.
func (m *Module) Function(name string) (*Function, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	f := &Function{d: m.d, Name: name}
	err := m.d.call("cuModuleGetFunction("+name+")", func() C.CUresult {
		return C.lab_cuModuleGetFunction(m.d.api.moduleGetFunction, &f.f, m.m, cs)
	})
	if err != nil {
		return nil, err
	}
	// CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, _LOCAL_SIZE_BYTES, _NUM_REGS
	for _, a := range []struct {
		attr C.int
		to   *int
	}{{0, &f.MaxThreads}, {3, &f.LocalBytes}, {4, &f.Regs}} {
		var v C.int
		if err := m.d.call("cuFuncGetAttribute", func() C.CUresult {
			return C.lab_cuFuncGetAttribute(m.d.api.funcGetAttribute, &v, a.attr, f.f)
		}); err != nil {
			return nil, err
		}
		*a.to = int(v)
	}
	return f, nil
}

// Dim3 is a grid or block shape; zero components count as 1.
type Dim3 struct{ X, Y, Z int }

func (d Dim3) c() (C.uint, C.uint, C.uint) {
	one := func(v int) C.uint { return C.uint(max(v, 1)) }
	return one(d.X), one(d.Y), one(d.Z)
}

const maxArgs = 32 // LAB_MAX_ARGS in shim.c

// Launch queues the kernel on s with the given grid, block and dynamic
// shared memory. Arguments are passed by value in the order of the
// kernel's parameters; allowed Go types are Buffer (a device pointer),
// int32, uint32, int64, uint64, float32 and float64. A plain int is refused:
// say which width the kernel takes.
func (f *Function) Launch(s *Stream, grid, block Dim3, shared int, args ...any) error {
	if len(args) > maxArgs {
		return fmt.Errorf("cuda: %s: %d arguments, at most %d", f.Name, len(args), maxArgs)
	}
	if n := max(block.X, 1) * max(block.Y, 1) * max(block.Z, 1); n > f.MaxThreads {
		return fmt.Errorf("cuda: %s: block of %d threads, the kernel allows %d", f.Name, n, f.MaxThreads)
	}
	var buf [maxArgs * 8]byte
	var offs [maxArgs]int32 // C int
	if err := packArgs(buf[:], offs[:], args); err != nil {
		return fmt.Errorf("cuda: %s: %w", f.Name, err)
	}
	gx, gy, gz := grid.c()
	bx, by, bz := block.c()
	if err := f.d.enter(); err != nil {
		return err
	}
	defer f.d.leave()
	r := C.lab_cuLaunchKernel(f.d.api.launchKernel, f.f, gx, gy, gz, bx, by, bz, C.uint(shared),
		s.handle(), unsafe.Pointer(&buf[0]), (*C.int)(unsafe.Pointer(&offs[0])), C.int(len(args)))
	if r != 0 {
		return fmt.Errorf("%w (kernel %s, grid %v, block %v)", f.d.api.err("cuLaunchKernel", r), f.Name, grid, block)
	}
	return nil
}

// packArgs lays the arguments out in buf at their natural alignment and
// writes each one's offset to offs (kernel parameters are passed to
// cuLaunchKernel as an array of pointers to their values).
func packArgs(buf []byte, offs []int32, args []any) error {
	off := 0
	le := binary.LittleEndian
	for i, a := range args {
		size := 4
		switch a.(type) {
		case Buffer, int64, uint64, float64:
			size = 8
		}
		off = (off + size - 1) &^ (size - 1)
		offs[i] = int32(off)
		b := buf[off : off+size]
		off += size
		switch v := a.(type) {
		case Buffer:
			le.PutUint64(b, v.Ptr)
		case int32:
			le.PutUint32(b, uint32(v))
		case uint32:
			le.PutUint32(b, v)
		case float32:
			le.PutUint32(b, math.Float32bits(v))
		case int64:
			le.PutUint64(b, uint64(v))
		case uint64:
			le.PutUint64(b, v)
		case float64:
			le.PutUint64(b, math.Float64bits(v))
		default:
			return fmt.Errorf("argument %d has type %T; use Buffer, int32, uint32, int64, uint64, float32 or float64", i, a)
		}
	}
	return nil
}
