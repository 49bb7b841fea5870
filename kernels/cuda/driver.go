package cuda

// #include "shim.h"
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// driverAPI holds the entry points of libcuda.so.1.
type driverAPI struct {
	lib     *library
	version int // cuDriverGetVersion, e.g. 13000 for CUDA 13.0

	init, driverGetVersion, deviceGetCount, deviceGet, deviceGetName, deviceTotalMem,
	deviceGetAttribute, primaryCtxRetain, primaryCtxRelease, ctxSetCurrent, ctxSynchronize,
	getErrorName, getErrorString, memGetInfo, memAlloc, memFree, memcpyHtoD, memcpyDtoH,
	memcpyDtoDAsync, memcpyHtoDAsync, memcpyDtoHAsync, memsetD32Async, streamCreate, streamDestroy, streamSynchronize,
	moduleLoadData, moduleGetFunction, moduleUnload, funcGetAttribute, launchKernel,
	eventCreate, eventDestroy, eventRecord, eventSynchronize, eventElapsedTime,
	streamBeginCapture, streamEndCapture, graphInstantiate, graphLaunch, graphDestroy,
	graphExecDestroy unsafe.Pointer
}

var (
	drvOnce sync.Once
	drv     *driverAPI
	drvErr  error
)

// driver loads libcuda.so.1 and calls cuInit once per process.
func driver() (*driverAPI, error) {
	drvOnce.Do(func() { drv, drvErr = loadDriver() })
	return drv, drvErr
}

func loadDriver() (*driverAPI, error) {
	lib, err := openLibrary("the CUDA driver", []string{"libcuda.so.1"}, nil)
	if err != nil {
		return nil, err
	}
	a := &driverAPI{lib: lib}
	err = lib.symbols(map[string]*unsafe.Pointer{
		"cuInit": &a.init, "cuDriverGetVersion": &a.driverGetVersion,
		"cuDeviceGetCount": &a.deviceGetCount, "cuDeviceGet": &a.deviceGet,
		"cuDeviceGetName": &a.deviceGetName, "cuDeviceTotalMem_v2": &a.deviceTotalMem,
		"cuDeviceGetAttribute": &a.deviceGetAttribute, "cuDevicePrimaryCtxRetain": &a.primaryCtxRetain,
		"cuDevicePrimaryCtxRelease_v2": &a.primaryCtxRelease, "cuCtxSetCurrent": &a.ctxSetCurrent,
		"cuCtxSynchronize": &a.ctxSynchronize, "cuGetErrorName": &a.getErrorName,
		"cuGetErrorString": &a.getErrorString, "cuMemGetInfo_v2": &a.memGetInfo,
		"cuMemAlloc_v2": &a.memAlloc, "cuMemFree_v2": &a.memFree,
		"cuMemcpyHtoD_v2": &a.memcpyHtoD, "cuMemcpyDtoH_v2": &a.memcpyDtoH,
		"cuMemcpyDtoDAsync_v2": &a.memcpyDtoDAsync, "cuMemcpyHtoDAsync_v2": &a.memcpyHtoDAsync, "cuMemcpyDtoHAsync_v2": &a.memcpyDtoHAsync, "cuMemsetD32Async": &a.memsetD32Async,
		"cuStreamCreate": &a.streamCreate, "cuStreamDestroy_v2": &a.streamDestroy,
		"cuStreamSynchronize": &a.streamSynchronize, "cuModuleLoadData": &a.moduleLoadData,
		"cuModuleGetFunction": &a.moduleGetFunction, "cuModuleUnload": &a.moduleUnload,
		"cuFuncGetAttribute": &a.funcGetAttribute, "cuLaunchKernel": &a.launchKernel,
		"cuEventCreate": &a.eventCreate, "cuEventDestroy_v2": &a.eventDestroy,
		"cuEventRecord": &a.eventRecord, "cuEventSynchronize": &a.eventSynchronize,
		"cuEventElapsedTime": &a.eventElapsedTime,
	}, map[string]*unsafe.Pointer{
		// CUDA graphs (11.4 and later); their absence fails only Capture.
		"cuStreamBeginCapture_v2": &a.streamBeginCapture, "cuStreamEndCapture": &a.streamEndCapture,
		"cuGraphInstantiateWithFlags": &a.graphInstantiate, "cuGraphLaunch": &a.graphLaunch,
		"cuGraphDestroy": &a.graphDestroy, "cuGraphExecDestroy": &a.graphExecDestroy,
	})
	if err != nil {
		return nil, err
	}
	if r := C.lab_cuInit(a.init, 0); r != 0 {
		return nil, a.err("cuInit", r)
	}
	var v C.int
	if r := C.lab_cuIntOut(a.driverGetVersion, &v); r != 0 {
		return nil, a.err("cuDriverGetVersion", r)
	}
	a.version = int(v)
	return a, nil
}

// Error is a failed driver API call.
type Error struct {
	Call string // the entry point, e.g. "cuMemAlloc"
	Code int    // the CUresult
	Name string // e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Msg  string // the driver's description
}

// Error gives the call, the CUresult name and code, and its description.
func (e *Error) Error() string {
	return fmt.Sprintf("cuda: %s: %s (%d): %s", e.Call, e.Name, e.Code, e.Msg)
}

// Codes of CUresult that callers may want to tell apart.
const (
	ErrNoDevice     = 100 // CUDA_ERROR_NO_DEVICE
	ErrOutOfMemory  = 2   // CUDA_ERROR_OUT_OF_MEMORY
	ErrNotSupported = 801 // CUDA_ERROR_NOT_SUPPORTED
)

func (a *driverAPI) err(call string, r C.CUresult) error {
	e := &Error{Call: call, Code: int(r), Name: "CUDA_ERROR_UNKNOWN", Msg: "unknown error"}
	var s *C.char
	if C.lab_cuErrorString(a.getErrorName, r, &s) == 0 && s != nil {
		e.Name = C.GoString(s)
	}
	if C.lab_cuErrorString(a.getErrorString, r, &s) == 0 && s != nil {
		e.Msg = C.GoString(s)
	}
	return e
}

// DriverVersion returns the CUDA version the driver supports, as
// 1000*major + 10*minor (13000 for CUDA 13.0).
func DriverVersion() (int, error) {
	a, err := driver()
	if err != nil {
		return 0, err
	}
	return a.version, nil
}

// Device attributes (CUdevice_attribute) read by Devices.
const (
	attrMaxThreadsPerBlock = 1
	attrSMCount            = 16
	attrL2Bytes            = 38
	attrCCMajor            = 75
	attrCCMinor            = 76
	attrSharedOptin        = 97
)

// DeviceInfo describes one GPU.
type DeviceInfo struct {
	Index         int    `json:"index"`
	Name          string `json:"name"`
	MemoryBytes   int64  `json:"memory_bytes"`
	Major         int    `json:"cc_major"` // compute capability
	Minor         int    `json:"cc_minor"`
	SMs           int    `json:"sms"`
	L2Bytes       int    `json:"l2_bytes"`
	SharedOptin   int    `json:"shared_optin_bytes"` // largest shared memory a block may opt into
	MaxThreads    int    `json:"max_threads_per_block"`
	DriverVersion int    `json:"driver_version"`
}

// Arch is the compute capability as NVRTC spells it, e.g. "90".
func (d DeviceInfo) Arch() string { return fmt.Sprintf("%d%d", d.Major, d.Minor) }

// DeviceCount returns the number of CUDA devices, or an error saying why
// there are none usable (library missing, driver too old, no device).
func DeviceCount() (int, error) {
	a, err := driver()
	if err != nil {
		return 0, err
	}
	var n C.int
	if r := C.lab_cuIntOut(a.deviceGetCount, &n); r != 0 {
		return 0, a.err("cuDeviceGetCount", r)
	}
	return int(n), nil
}

// Devices describes every CUDA device. With none, it returns an error that
// says why: which library is missing, or that the driver sees no device.
func Devices() ([]DeviceInfo, error) {
	n, err := DeviceCount()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, &Error{Call: "cuDeviceGetCount", Code: ErrNoDevice, Name: "CUDA_ERROR_NO_DEVICE", Msg: "the driver reports 0 devices"}
	}
	out := make([]DeviceInfo, n)
	for i := range out {
		if out[i], err = deviceInfo(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func deviceInfo(i int) (DeviceInfo, error) {
	a, err := driver()
	if err != nil {
		return DeviceInfo{}, err
	}
	var d C.CUdevice
	if r := C.lab_cuDeviceGet(a.deviceGet, &d, C.int(i)); r != 0 {
		return DeviceInfo{}, a.err("cuDeviceGet", r)
	}
	var name [256]C.char
	if r := C.lab_cuDeviceGetName(a.deviceGetName, &name[0], C.int(len(name)), d); r != 0 {
		return DeviceInfo{}, a.err("cuDeviceGetName", r)
	}
	var mem C.size_t
	if r := C.lab_cuDeviceTotalMem(a.deviceTotalMem, &mem, d); r != 0 {
		return DeviceInfo{}, a.err("cuDeviceTotalMem", r)
	}
	info := DeviceInfo{Index: i, Name: C.GoString(&name[0]), MemoryBytes: int64(mem), DriverVersion: a.version}
	for _, at := range []struct {
		attr int
		dst  *int
	}{{attrCCMajor, &info.Major}, {attrCCMinor, &info.Minor}, {attrSMCount, &info.SMs},
		{attrL2Bytes, &info.L2Bytes}, {attrSharedOptin, &info.SharedOptin}, {attrMaxThreadsPerBlock, &info.MaxThreads}} {
		var v C.int
		if r := C.lab_cuDeviceGetAttribute(a.deviceGetAttribute, &v, C.int(at.attr), d); r != 0 {
			return DeviceInfo{}, a.err("cuDeviceGetAttribute", r)
		}
		*at.dst = int(v)
	}
	return info, nil
}
