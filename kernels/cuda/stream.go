package cuda

// #include "shim.h"
import "C"

import (
	"errors"
	"unsafe"
)

// Stream is an ordered queue of device work. A nil *Stream means the legacy
// default stream. Streams made here synchronize with the legacy default
// stream, so the synchronous copies (CopyIn, CopyOut) are ordered with them.
type Stream struct {
	d *Device
	s C.CUstream
}

// NewStream creates a stream.
func (d *Device) NewStream() (*Stream, error) {
	s := &Stream{d: d}
	err := d.call("cuStreamCreate", func() C.CUresult { return C.lab_cuStreamCreate(d.api.streamCreate, &s.s, 0) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stream) handle() C.CUstream {
	if s == nil {
		return nil
	}
	return s.s
}

// Sync waits until the stream's queued work is done.
func (s *Stream) Sync() error {
	return s.d.call("cuStreamSynchronize", func() C.CUresult {
		return C.lab_cuHandleArg(s.d.api.streamSynchronize, unsafe.Pointer(s.s))
	})
}

// Close destroys the stream.
func (s *Stream) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.d.call("cuStreamDestroy", func() C.CUresult {
		return C.lab_cuHandleArg(s.d.api.streamDestroy, unsafe.Pointer(s.s))
	})
	s.s = nil
	return err
}

// CopyAsync queues a device-to-device copy of min(dst, src) bytes on s.
func (d *Device) CopyAsync(s *Stream, dst, src Buffer) error {
	n := min(dst.Bytes, src.Bytes)
	return d.call("cuMemcpyDtoDAsync", func() C.CUresult {
		return C.lab_cuMemcpyDtoDAsync(d.api.memcpyDtoDAsync, C.CUdeviceptr(dst.Ptr), C.CUdeviceptr(src.Ptr), C.size_t(n), s.handle())
	})
}

// Fill32 queues setting every 4-byte word of b to the bit pattern v on s
// (use math.Float32bits for a float value).
func (d *Device) Fill32(s *Stream, b Buffer, v uint32) error {
	return d.call("cuMemsetD32Async", func() C.CUresult {
		return C.lab_cuMemsetD32Async(d.api.memsetD32Async, C.CUdeviceptr(b.Ptr), C.uint(v), C.size_t(b.Bytes/4), s.handle())
	})
}

// Event marks a point in a stream, for timing and ordering.
type Event struct {
	d *Device
	e C.CUevent
}

// NewEvent creates an event that records time.
func (d *Device) NewEvent() (*Event, error) {
	e := &Event{d: d}
	err := d.call("cuEventCreate", func() C.CUresult { return C.lab_cuEventCreate(d.api.eventCreate, &e.e, 0) })
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Record marks the event at the current end of stream s.
func (e *Event) Record(s *Stream) error {
	return e.d.call("cuEventRecord", func() C.CUresult {
		return C.lab_cuTwoHandles(e.d.api.eventRecord, unsafe.Pointer(e.e), unsafe.Pointer(s.handle()))
	})
}

// Sync waits until the work before the event's record is done.
func (e *Event) Sync() error {
	return e.d.call("cuEventSynchronize", func() C.CUresult {
		return C.lab_cuHandleArg(e.d.api.eventSynchronize, unsafe.Pointer(e.e))
	})
}

// Since returns the milliseconds between start's record and e's (both
// must have completed).
func (e *Event) Since(start *Event) (float32, error) {
	var ms C.float
	err := e.d.call("cuEventElapsedTime", func() C.CUresult {
		return C.lab_cuEventElapsedTime(e.d.api.eventElapsedTime, &ms, start.e, e.e)
	})
	return float32(ms), err
}

// Close destroys the event.
func (e *Event) Close() error {
	if e == nil || e.e == nil {
		return nil
	}
	err := e.d.call("cuEventDestroy", func() C.CUresult { return C.lab_cuHandleArg(e.d.api.eventDestroy, unsafe.Pointer(e.e)) })
	e.e = nil
	return err
}

// Graph is an instantiated CUDA graph: a captured sequence of stream work
// replayed with one launch.
type Graph struct {
	d    *Device
	exec C.CUgraphExec
}

// captureRelaxed is CU_STREAM_CAPTURE_MODE_RELAXED: Go moves goroutines
// between OS threads, so the per-thread checks of the stricter modes would
// reject unrelated calls made from a thread that once began a capture.
const captureRelaxed = 2

// Capture records the work that record queues on s (a stream made by
// NewStream, not the default one) into a graph, without running it, and
// instantiates it. The buffers the work uses must outlive the graph.
func (d *Device) Capture(s *Stream, record func() error) (*Graph, error) {
	a := d.api
	if a.streamBeginCapture == nil || a.graphInstantiate == nil {
		return nil, errors.New("cuda: this driver lacks CUDA graph capture (needs CUDA 11.4 or later)")
	}
	if s == nil {
		return nil, errors.New("cuda: Capture needs a stream made by NewStream, not the default stream")
	}
	// No other goroutine's implicitly synchronising call may run while the
	// stream captures (Device.capMu).
	d.capMu.Lock()
	defer d.capMu.Unlock()
	if err := d.call("cuStreamBeginCapture", func() C.CUresult {
		return C.lab_cuStreamBeginCapture(a.streamBeginCapture, s.s, captureRelaxed)
	}); err != nil {
		return nil, err
	}
	recErr := record()
	var g C.CUgraph
	endErr := d.call("cuStreamEndCapture", func() C.CUresult { return C.lab_cuStreamEndCapture(a.streamEndCapture, s.s, &g) })
	if recErr != nil || endErr != nil {
		if g != nil {
			d.call("cuGraphDestroy", func() C.CUresult { return C.lab_cuHandleArg(a.graphDestroy, unsafe.Pointer(g)) })
		}
		return nil, errors.Join(recErr, endErr)
	}
	defer d.call("cuGraphDestroy", func() C.CUresult { return C.lab_cuHandleArg(a.graphDestroy, unsafe.Pointer(g)) })
	out := &Graph{d: d}
	if err := d.call("cuGraphInstantiateWithFlags", func() C.CUresult {
		return C.lab_cuGraphInstantiate(a.graphInstantiate, &out.exec, g, 0)
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// Launch queues one replay of the graph on s.
func (g *Graph) Launch(s *Stream) error {
	return g.d.call("cuGraphLaunch", func() C.CUresult {
		return C.lab_cuTwoHandles(g.d.api.graphLaunch, unsafe.Pointer(g.exec), unsafe.Pointer(s.handle()))
	})
}

// Close destroys the graph.
func (g *Graph) Close() error {
	if g == nil || g.exec == nil {
		return nil
	}
	err := g.d.call("cuGraphExecDestroy", func() C.CUresult {
		return C.lab_cuHandleArg(g.d.api.graphExecDestroy, unsafe.Pointer(g.exec))
	})
	g.exec = nil
	return err
}
