package cuda

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// nvrtcAPI holds the entry points of libnvrtc.
type nvrtcAPI struct {
	lib          *library
	major, minor int
	archs        []int // compute capabilities NVRTC can emit machine code for (10*major+minor)

	version, getErrorString, numArchs, supportedArchs, create, compile, logSize, log,
	ptxSize, ptx, cubinSize, cubin, destroy unsafe.Pointer
}

var (
	nvrtcOnce sync.Once
	nvrtcLib  *nvrtcAPI
	nvrtcErr  error
)

func nvrtc() (*nvrtcAPI, error) {
	nvrtcOnce.Do(func() { nvrtcLib, nvrtcErr = loadNVRTC() })
	return nvrtcLib, nvrtcErr
}

func loadNVRTC() (*nvrtcAPI, error) {
	lib, err := openLibrary("NVRTC", []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11"},
		preloadGlob("libnvrtc-builtins.so.*"))
	if err != nil {
		return nil, err
	}
	a := &nvrtcAPI{lib: lib}
	err = lib.symbols(map[string]*unsafe.Pointer{
		"nvrtcVersion": &a.version, "nvrtcGetErrorString": &a.getErrorString,
		"nvrtcCreateProgram": &a.create, "nvrtcCompileProgram": &a.compile,
		"nvrtcGetProgramLogSize": &a.logSize, "nvrtcGetProgramLog": &a.log,
		"nvrtcGetPTXSize": &a.ptxSize, "nvrtcGetPTX": &a.ptx, "nvrtcDestroyProgram": &a.destroy,
	}, map[string]*unsafe.Pointer{
		"nvrtcGetCUBINSize": &a.cubinSize, "nvrtcGetCUBIN": &a.cubin,
		"nvrtcGetNumSupportedArchs": &a.numArchs, "nvrtcGetSupportedArchs": &a.supportedArchs,
	})
	if err != nil {
		return nil, err
	}
	var maj, min C.int
	if r := C.lab_nvrtcVersion(a.version, &maj, &min); r != 0 {
		return nil, a.err("nvrtcVersion", r)
	}
	a.major, a.minor = int(maj), int(min)
	if a.numArchs != nil && a.supportedArchs != nil {
		var n C.int
		if C.lab_nvrtcGetNumSupportedArchs(a.numArchs, &n) == 0 && n > 0 {
			archs := make([]C.int, n)
			if C.lab_nvrtcGetSupportedArchs(a.supportedArchs, &archs[0]) == 0 {
				for _, v := range archs {
					a.archs = append(a.archs, int(v))
				}
			}
		}
	}
	return a, nil
}

func (a *nvrtcAPI) err(call string, r C.nvrtcResult) error {
	return fmt.Errorf("cuda: %s: %s (%d)", call, C.GoString(C.lab_nvrtcGetErrorString(a.getErrorString, r)), int(r))
}

// NVRTCVersion returns the version of the NVRTC library found, and its path.
func NVRTCVersion() (major, minor int, path string, err error) {
	a, err := nvrtc()
	if err != nil {
		return 0, 0, "", err
	}
	return a.major, a.minor, a.lib.path, nil
}

// Compiled is device code made from CUDA C++ source.
type Compiled struct {
	Image  []byte // CUBIN (Target sm_XX) or NUL-terminated PTX (compute_XX)
	Target string // "sm_90": machine code; "compute_90": PTX the driver compiles at load
	Cached bool   // read from the on-disk cache
	Log    string // compiler warnings, if any
	// CacheErr is why the result could not be written to the cache (the
	// compile itself succeeded).
	CacheErr error
}

// CompileError is a failed compile; Log is NVRTC's full output.
type CompileError struct {
	Name, Target string
	Result       string
	Log          string
}

// Error gives the source, the target, NVRTC's result and its full log.
func (e *CompileError) Error() string {
	return fmt.Sprintf("cuda: NVRTC could not compile %s for %s: %s\n%s", e.Name, e.Target, e.Result, e.Log)
}

// target picks machine code for cc (e.g. 90) when NVRTC can emit it, else
// PTX for the newest virtual architecture not above cc.
func (a *nvrtcAPI) target(cc int) (string, bool, error) {
	if a.cubin == nil {
		return fmt.Sprintf("compute_%d", cc), false, nil
	}
	if len(a.archs) == 0 || slices.Contains(a.archs, cc) {
		return fmt.Sprintf("sm_%d", cc), true, nil
	}
	best := 0
	for _, v := range a.archs {
		if v <= cc && v > best {
			best = v
		}
	}
	if best == 0 {
		return "", false, fmt.Errorf("cuda: NVRTC %d.%d supports architectures %v, none at or below compute capability %d.%d", a.major, a.minor, a.archs, cc/10, cc%10)
	}
	return fmt.Sprintf("compute_%d", best), false, nil
}

// CacheDir is where compiled kernels are kept: $LAB_CUDA_CACHE if set,
// else the user cache folder's lab/cuda.
func CacheDir() (string, error) {
	if d := os.Getenv("LAB_CUDA_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "lab", "cuda"), nil
}

// CompileSource compiles CUDA C++ source (name is used in messages) for a device
// of compute capability major.minor with extra NVRTC options. The result is
// cached on disk, keyed by the SHA-256 of the source, the options, the
// target, and the driver and NVRTC versions.
func CompileSource(name, src string, major, minor int, opts ...string) (*Compiled, error) {
	a, err := nvrtc()
	if err != nil {
		return nil, err
	}
	dv, err := DriverVersion()
	if err != nil {
		return nil, err
	}
	target, cubin, err := a.target(10*major + minor)
	if err != nil {
		return nil, err
	}
	options := append([]string{"--gpu-architecture=" + target}, opts...)
	h := sha256.New()
	fmt.Fprintf(h, "lab-cuda-1\x00%s\x00%s\x00%s\x00driver %d\x00nvrtc %d.%d\x00", src, strings.Join(options, "\x00"), target, dv, a.major, a.minor)
	key := hex.EncodeToString(h.Sum(nil))
	ext := ".ptx"
	if cubin {
		ext = ".cubin"
	}
	dir, dirErr := CacheDir()
	file := ""
	if dirErr == nil {
		file = filepath.Join(dir, key+ext)
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
			return &Compiled{Image: b, Target: target, Cached: true}, nil
		}
	}
	out, err := a.compileSource(name, src, target, cubin, options)
	if err != nil {
		return nil, err
	}
	if dirErr != nil {
		out.CacheErr = dirErr
	} else {
		out.CacheErr = writeAtomic(dir, file, out.Image)
	}
	return out, nil
}

func writeAtomic(dir, file string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), file)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

func (a *nvrtcAPI) compileSource(name, src, target string, cubin bool, options []string) (*Compiled, error) {
	csrc, cname := C.CString(src), C.CString(name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	var prog C.nvrtcProgram
	if r := C.lab_nvrtcCreateProgram(a.create, &prog, csrc, cname); r != 0 {
		return nil, a.err("nvrtcCreateProgram", r)
	}
	defer C.lab_nvrtcDestroyProgram(a.destroy, &prog)
	copts := make([]*C.char, len(options))
	for i, o := range options {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	res := C.lab_nvrtcCompileProgram(a.compile, prog, C.int(len(copts)), &copts[0])
	log, _ := a.bytes(prog, a.logSize, a.log)
	logs := strings.TrimRight(string(log), "\x00\n ")
	if res != 0 {
		return nil, &CompileError{Name: name, Target: target, Result: C.GoString(C.lab_nvrtcGetErrorString(a.getErrorString, res)), Log: logs}
	}
	sizeFn, getFn := a.ptxSize, a.ptx
	if cubin {
		sizeFn, getFn = a.cubinSize, a.cubin
	}
	img, err := a.bytes(prog, sizeFn, getFn)
	if err != nil {
		return nil, err
	}
	return &Compiled{Image: img, Target: target, Log: logs}, nil
}

// bytes reads one of the program's outputs (log, PTX or CUBIN).
func (a *nvrtcAPI) bytes(prog C.nvrtcProgram, sizeFn, getFn unsafe.Pointer) ([]byte, error) {
	var n C.size_t
	if r := C.lab_nvrtcGetSize(sizeFn, prog, &n); r != 0 {
		return nil, a.err("nvrtcGet*Size", r)
	}
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	if r := C.lab_nvrtcGetBytes(getFn, prog, (*C.char)(unsafe.Pointer(&b[0]))); r != 0 {
		return nil, a.err("nvrtcGet*", r)
	}
	return b, nil
}
