package istionomad

/*
#include "istio_nomad.h"
*/
import "C"

import (
	"encoding/json"
	"runtime/cgo"
	"unsafe"
)

//export istioNomadGoProgress
func istioNomadGoProgress(eventJSON *C.char, userData unsafe.Pointer) {
	h := *(*cgo.Handle)(userData)
	fn := h.Value().(func(Event))
	raw := C.GoString(eventJSON)
	ev := Event{Raw: json.RawMessage(raw)}
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		ev.Name = "undecodable"
	}
	fn(ev)
}

// withProgress runs call with the C progress callback wired to progress (nil: no callback),
// and returns the output string or the error.
func withProgress(progress func(Event), call func(C.IstioNomadProgressCallback, unsafe.Pointer) (C.IstioNomadResult, *C.IstioNomadString, *C.IstioNomadError)) ([]byte, error) {
	var cb C.IstioNomadProgressCallback
	var ud unsafe.Pointer
	if progress != nil {
		h := cgo.NewHandle(progress)
		defer h.Delete()
		cb = progressCallback()
		ud = unsafe.Pointer(&h)
	}
	rc, out, cerr := call(cb, ud)
	if rc != C.ISTIO_NOMAD_OK {
		return nil, takeError(rc, cerr)
	}
	return takeString(out), nil
}
