package cuda

// RecordEvent records e at the current end of the program's stream, so that
// callers outside the package can time what they queue there (Run, Step,
// TrainStep) with device events: record a start event, queue the work,
// record a stop event, then stop.Sync and stop.Since(start).
func (p *Program) RecordEvent(e *Event) error { return e.Record(p.s) }

// Device is the GPU the program was compiled for.
func (p *Program) Device() *Device { return p.d }
