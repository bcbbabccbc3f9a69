// Package istionomad is a Go binding of the istio-nomad C ABI (istio_nomad.h): plan an Istio
// mesh on Nomad, convert and validate Nomad jobs.
//
// It links the static library libistio_nomad_ffi.a that Cargo builds in the repository's
// target folder: after `cargo build` (or `cargo build --release`) at the repository root,
// `go test ./...` in examples/go needs no extra environment. When both a debug and a release
// build exist, the debug one is linked (it comes first in the search path); a library built
// elsewhere (CARGO_TARGET_DIR) is found with CGO_LDFLAGS="-L<dir>".
//
//	cargo build -p istio-nomad-ffi
//	cd examples/go && go test ./...
//
// Every failure is an *Error carrying the result code, the message and the located problems
// (field path, message, offending value), so callers can use errors.Is(err, ErrValidation)
// and errors.As to read the field paths. All functions are safe for concurrent use.
package istionomad

/*
#cgo CFLAGS: -I${SRCDIR}/../../../istio-nomad-ffi/include
#cgo LDFLAGS: -L${SRCDIR}/../../../target/debug -L${SRCDIR}/../../../target/release -l:libistio_nomad_ffi.a -lpthread -ldl -lm
#include <stdlib.h>
#include "istio_nomad.h"

// Defined in progress.go (//export); receives the events of Cluster operations.
extern void istioNomadGoProgress(char *event_json, void *user_data);

static void istio_nomad_go_progress(const char *event_json, void *user_data) {
	istioNomadGoProgress((char *)event_json, user_data);
}

static IstioNomadProgressCallback istio_nomad_go_progress_fn(void) {
	return istio_nomad_go_progress;
}
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"unsafe"
)

// Code is a result code of the C ABI (IstioNomadResult).
type Code uint32

// The result codes: one per error family of the core library, plus the boundary's own.
const (
	CodeOK              Code = C.ISTIO_NOMAD_OK
	CodeParse           Code = C.ISTIO_NOMAD_PARSE
	CodeValidation      Code = C.ISTIO_NOMAD_VALIDATION
	CodeIptables        Code = C.ISTIO_NOMAD_IPTABLES
	CodeBackend         Code = C.ISTIO_NOMAD_BACKEND
	CodeConflict        Code = C.ISTIO_NOMAD_CONFLICT
	CodeIO              Code = C.ISTIO_NOMAD_IO
	CodeNullArgument    Code = C.ISTIO_NOMAD_NULL_ARGUMENT
	CodeInvalidUTF8     Code = C.ISTIO_NOMAD_INVALID_UTF8
	CodeInvalidArgument Code = C.ISTIO_NOMAD_INVALID_ARGUMENT
	CodePanic           Code = C.ISTIO_NOMAD_PANIC
	CodeInstall         Code = C.ISTIO_NOMAD_INSTALL
	CodeEncode          Code = C.ISTIO_NOMAD_ENCODE
)

var codeNames = map[Code]string{
	CodeOK: "OK", CodeParse: "PARSE", CodeValidation: "VALIDATION", CodeIptables: "IPTABLES",
	CodeBackend: "BACKEND", CodeConflict: "CONFLICT", CodeIO: "IO",
	CodeNullArgument: "NULL_ARGUMENT", CodeInvalidUTF8: "INVALID_UTF8",
	CodeInvalidArgument: "INVALID_ARGUMENT", CodePanic: "PANIC", CodeInstall: "INSTALL",
	CodeEncode: "ENCODE",
}

// String returns the code's name (VALIDATION).
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", uint32(c))
}

// FieldError is one located problem: where, what, and the offending value.
type FieldError struct {
	// Path of the field, e.g. mesh.service[reviews].port[http].port.
	Path string `json:"path"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Value is the offending value as written, or nil.
	Value *string `json:"value"`
}

// Error is a failure reported by the library.
type Error struct {
	// Code is the result code (its family).
	Code Code `json:"code"`
	// Family is the core error family (parse, validation, ...), empty for boundary errors.
	Family string `json:"family"`
	// Message is the full message, every problem included.
	Message string `json:"message"`
	// Line is the 1-based line of a parse error, 0 when unknown.
	Line int `json:"line"`
	// Kind is the kind of a parse error ("variable", "unknown_field", "type",
	// "unknown_function", "limit.value_size", ...), empty for other errors.
	Kind string `json:"kind"`
	// Fields lists the located problems.
	Fields []FieldError `json:"fields"`
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("istio-nomad: %s: %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrValidation) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is, one per code.
var (
	ErrParse           = &Error{Code: CodeParse}
	ErrValidation      = &Error{Code: CodeValidation}
	ErrIptables        = &Error{Code: CodeIptables}
	ErrBackend         = &Error{Code: CodeBackend}
	ErrConflict        = &Error{Code: CodeConflict}
	ErrIO              = &Error{Code: CodeIO}
	ErrNullArgument    = &Error{Code: CodeNullArgument}
	ErrInvalidUTF8     = &Error{Code: CodeInvalidUTF8}
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument}
	ErrPanic           = &Error{Code: CodePanic}
)

// Format names the format of a document.
type Format uint32

// Formats. FormatAuto detects an input's format (JSON when it starts with '{').
const (
	FormatAuto Format = C.ISTIO_NOMAD_FORMAT_AUTO
	FormatHCL  Format = C.ISTIO_NOMAD_FORMAT_HCL
	FormatJSON Format = C.ISTIO_NOMAD_FORMAT_JSON
)

// Version returns the version of the linked library.
func Version() string {
	return C.GoString(C.istio_nomad_version())
}

// HeaderVersion returns the version of the header this package was compiled against.
func HeaderVersion() string {
	return C.ISTIO_NOMAD_VERSION
}

// input returns the pointer + length of b for the duration of a call ((NULL, 0) when empty).
func input(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// takeError converts and frees the error handle of a failed call.
func takeError(rc C.IstioNomadResult, cerr *C.IstioNomadError) error {
	defer C.istio_nomad_error_free(&cerr)
	e := &Error{Code: Code(rc)}
	if cerr == nil {
		e.Message = "no error detail available"
		return e
	}
	doc := C.GoString(C.istio_nomad_error_json(cerr))
	var parsed struct {
		Error
		Line *int `json:"line"`
	}
	if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
		e.Message = C.GoString(C.istio_nomad_error_message(cerr))
		return e
	}
	e = &parsed.Error
	e.Code = Code(rc)
	if parsed.Line != nil {
		e.Line = *parsed.Line
	}
	return e
}

// takeString copies and frees an output string.
func takeString(s *C.IstioNomadString) []byte {
	defer C.istio_nomad_string_free(&s)
	n := int(C.istio_nomad_string_len(s))
	out := make([]byte, n)
	if n > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(C.istio_nomad_string_data(s))), n))
	}
	return out
}

// PlanJSON plans a mesh spec (HCL or JSON text) and returns the plan document as JSON: every
// job as HCL and JSON, the iptables rules files, the VM bundles and the dependency order.
func PlanJSON(spec []byte, format Format) ([]byte, error) {
	p, n := input(spec)
	var out *C.IstioNomadString
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_plan(p, n, C.uint32_t(format), &out, &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return nil, takeError(rc, cerr)
	}
	return takeString(out), nil
}

// PlannedJob is one job of a plan.
type PlannedJob struct {
	// ID is the Nomad job ID.
	ID string `json:"id"`
	// Role is etcd, apiserver, pilot, mixer, citadel, zipkin or app.
	Role string `json:"role"`
	// DependsOn lists the jobs that must be healthy first.
	DependsOn []string `json:"depends_on"`
	// HCL is the `nomad job run`-ready jobspec.
	HCL string `json:"hcl"`
	// JSON is the Nomad API job object.
	JSON json.RawMessage `json:"json"`
}

// RulesFile holds the iptables rules of one meshed group.
type RulesFile struct {
	Job     string `json:"job"`
	Group   string `json:"group"`
	Restore string `json:"restore"`
	Cleanup string `json:"cleanup"`
}

// VMBundle holds the files of a service that runs outside Nomad.
type VMBundle struct {
	Service string            `json:"service"`
	Files   map[string]string `json:"files"`
}

// MeshPlan is the decoded plan document.
type MeshPlan struct {
	Mesh      string       `json:"mesh"`
	SpecHash  string       `json:"spec_hash"`
	Order     [][]string   `json:"order"`
	Jobs      []PlannedJob `json:"jobs"`
	Iptables  []RulesFile  `json:"iptables"`
	VMBundles []VMBundle   `json:"vm_bundles"`
}

// Plan plans a mesh spec and decodes the plan document.
func Plan(spec []byte, format Format) (*MeshPlan, error) {
	doc, err := PlanJSON(spec, format)
	if err != nil {
		return nil, err
	}
	var plan MeshPlan
	if err := json.Unmarshal(doc, &plan); err != nil {
		return nil, fmt.Errorf("istio-nomad: decoding the plan document: %w", err)
	}
	return &plan, nil
}

// VerifyJSON checks that the plan of a mesh spec carries traffic and returns the report
// document (see istio_nomad_verify in the header): the findings, and the registrations Nomad
// would make in Consul. The check itself running is not an error; read Findings.
func VerifyJSON(spec []byte, format Format) ([]byte, error) {
	p, n := input(spec)
	var out *C.IstioNomadString
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_verify(p, n, C.uint32_t(format), &out, &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return nil, takeError(rc, cerr)
	}
	return takeString(out), nil
}

// Finding is one place where the mesh would not carry traffic.
type Finding struct {
	// Severity is "error" (traffic stops; Plan refuses) or "warning".
	Severity string `json:"severity"`
	// Kind is no-inbound-listener, no-outbound-listener, shared-port, protocol-ignored,
	// default-protocol, not-registered, ads-port, unresolvable, unreachable, not-captured or
	// unsupported-version.
	Kind string `json:"kind"`
	// Path is the group or service path, e.g. job[reviews].group[reviews-v1].service[0].
	Path string `json:"path"`
	// Message says why, and what to change.
	Message string `json:"message"`
}

// VerifyReport is the decoded report document.
type VerifyReport struct {
	IstioVersion  string            `json:"istio_version"`
	Mode          string            `json:"mode"`
	Source        string            `json:"source"`
	Findings      []Finding         `json:"findings"`
	Registrations []json.RawMessage `json:"registrations"`
}

// HasErrors reports whether a finding is an error.
func (r *VerifyReport) HasErrors() bool {
	for _, f := range r.Findings {
		if f.Severity == "error" {
			return true
		}
	}
	return false
}

// Verify checks a mesh spec and decodes the report.
func Verify(spec []byte, format Format) (*VerifyReport, error) {
	doc, err := VerifyJSON(spec, format)
	if err != nil {
		return nil, err
	}
	var r VerifyReport
	if err := json.Unmarshal(doc, &r); err != nil {
		return nil, fmt.Errorf("istio-nomad: decoding the verify report: %w", err)
	}
	return &r, nil
}

// ConvertJob converts a Nomad job between HCL and JSON (to FormatJSON: the POST /v1/jobs
// body). The job is not validated; see ValidateJob.
func ConvertJob(job []byte, from, to Format) (string, error) {
	p, n := input(job)
	var out *C.IstioNomadString
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_job_convert(p, n, C.uint32_t(from), C.uint32_t(to), &out, &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return "", takeError(rc, cerr)
	}
	return string(takeString(out)), nil
}

// ReadOptions says how to read an HCL job, as `nomad job run` takes it (JSON input ignores
// them). The zero value reads strictly with no variables.
type ReadOptions struct {
	// Vars are -var values: a string is the text after "name=", any other value is taken
	// as its JSON text (which reads as the same HCL value).
	Vars map[string]interface{} `json:"vars,omitempty"`
	// VarFiles are -var-file files (HCL or JSON), in order.
	VarFiles []string `json:"var_files,omitempty"`
	// Env holds NOMAD_VAR_<name> entries as [name, value] pairs.
	Env [][2]string `json:"env,omitempty"`
	// ProcessEnv takes the NOMAD_VAR_<name> entries of this process's environment.
	ProcessEnv bool `json:"process_env,omitempty"`
	// AllowUnknown keeps arguments and blocks newer than the schema instead of refusing them.
	AllowUnknown bool `json:"allow_unknown,omitempty"`
	// AllowFS allows file(), fileexists() and the other filesystem functions.
	AllowFS bool `json:"allow_fs,omitempty"`
	// BaseDir is the folder filesystem functions read relative to.
	BaseDir string `json:"base_dir,omitempty"`
}

// ConvertJobWith is ConvertJob reading HCL with options. Precedence, lowest first: a
// variable's default, NOMAD_VAR_ entries, var files, Vars. A variable without a value, an
// undeclared one or one of the wrong type is an *Error with Kind "variable".
func ConvertJobWith(job []byte, from, to Format, opts ReadOptions) (string, error) {
	doc, err := json.Marshal(opts)
	if err != nil {
		return "", fmt.Errorf("istio-nomad: encoding the read options: %w", err)
	}
	p, n := input(job)
	op, on := input(doc)
	var out *C.IstioNomadString
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_job_convert_with(p, n, C.uint32_t(from), C.uint32_t(to), op, on, &out, &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return "", takeError(rc, cerr)
	}
	return string(takeString(out)), nil
}

// ValidateJob checks a Nomad job with Nomad's rules; the error lists every problem.
func ValidateJob(job []byte, format Format) error {
	p, n := input(job)
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_job_validate(p, n, C.uint32_t(format), &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return takeError(rc, cerr)
	}
	return nil
}

// IptablesKind selects a rendering of the interception rules.
type IptablesKind uint32

// Renderings of RenderIptables.
const (
	// IptablesAll is a JSON document with every rendering (see IptablesRules).
	IptablesAll IptablesKind = C.ISTIO_NOMAD_IPTABLES_ALL
	// IptablesRestore is iptables-restore --noflush input for IPv4.
	IptablesRestore IptablesKind = C.ISTIO_NOMAD_IPTABLES_RESTORE
	// IptablesRestoreV6 is ip6tables-restore --noflush input (empty when IPv6 is off).
	IptablesRestoreV6 IptablesKind = C.ISTIO_NOMAD_IPTABLES_RESTORE_V6
	// IptablesShell is a POSIX shell script, one command per step.
	IptablesShell IptablesKind = C.ISTIO_NOMAD_IPTABLES_SHELL
	// IptablesCleanup is iptables-restore input removing exactly the IPv4 rules.
	IptablesCleanup IptablesKind = C.ISTIO_NOMAD_IPTABLES_CLEANUP
	// IptablesCleanupV6 is ip6tables-restore input removing the IPv6 rules.
	IptablesCleanupV6 IptablesKind = C.ISTIO_NOMAD_IPTABLES_CLEANUP_V6
	// IptablesCleanupShell is a shell script removing everything, TPROXY routing included.
	IptablesCleanupShell IptablesKind = C.ISTIO_NOMAD_IPTABLES_CLEANUP_SHELL
)

// RenderIptables renders Istio's interception rules for an InterceptConfig given as JSON
// ("{}" is Istio's defaults).
func RenderIptables(config []byte, kind IptablesKind) (string, error) {
	p, n := input(config)
	var out *C.IstioNomadString
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_iptables_render(p, n, C.uint32_t(kind), &out, &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return "", takeError(rc, cerr)
	}
	return string(takeString(out)), nil
}

// FamilyText holds one text per address family (IPv6 nil when off).
type FamilyText struct {
	IPv4 string  `json:"ipv4"`
	IPv6 *string `json:"ipv6"`
}

// IptablesRules is every rendering of one interception config.
type IptablesRules struct {
	Restore      FamilyText `json:"restore"`
	Cleanup      FamilyText `json:"cleanup"`
	Shell        string     `json:"shell"`
	CleanupShell string     `json:"cleanup_shell"`
	// IPCommands are the TPROXY policy-routing `ip` commands to run after the restore.
	IPCommands [][]string `json:"ip_commands"`
}

// Iptables renders every form of the interception rules of config.
func Iptables(config []byte) (*IptablesRules, error) {
	doc, err := RenderIptables(config, IptablesAll)
	if err != nil {
		return nil, err
	}
	var rules IptablesRules
	if err := json.Unmarshal([]byte(doc), &rules); err != nil {
		return nil, fmt.Errorf("istio-nomad: decoding the iptables document: %w", err)
	}
	return &rules, nil
}

// InjectSidecar injects the Istio sidecar (proxy, iptables init task, readiness gate) into
// every selected group of a Nomad job (HCL or JSON). options is JSON with at least "mesh"
// (see istio_nomad_sidecar_inject in istio_nomad.h). Injecting twice equals injecting once.
func InjectSidecar(job []byte, jobFormat Format, options []byte, outFormat Format) (string, error) {
	jp, jn := input(job)
	op, on := input(options)
	var out *C.IstioNomadString
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_sidecar_inject(jp, jn, C.uint32_t(jobFormat), op, on, C.uint32_t(outFormat), &out, &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return "", takeError(rc, cerr)
	}
	return string(takeString(out)), nil
}

// RemoveSidecar restores every injected group of a job exactly as it was before injection.
func RemoveSidecar(job []byte, jobFormat, outFormat Format) (string, error) {
	jp, jn := input(job)
	var out *C.IstioNomadString
	var cerr *C.IstioNomadError
	rc := C.istio_nomad_sidecar_remove(jp, jn, C.uint32_t(jobFormat), C.uint32_t(outFormat), &out, &cerr)
	if rc != C.ISTIO_NOMAD_OK {
		return "", takeError(rc, cerr)
	}
	return string(takeString(out)), nil
}

// Cluster is where Diff, Apply and Destroy talk to: Nomad, Consul and etcd over HTTP, or an
// in-memory cluster kept for the life of the value. Safe for concurrent use; call Close when
// done (a closed Cluster returns ErrNullArgument errors instead of touching freed memory).
type Cluster struct {
	c *C.IstioNomadCluster
}

// NewInMemoryCluster returns an empty in-memory cluster (Nomad, Consul and etcd wired
// together like real servers).
func NewInMemoryCluster() (*Cluster, error) {
	var c *C.IstioNomadCluster
	var cerr *C.IstioNomadError
	if rc := C.istio_nomad_cluster_in_memory(&c, &cerr); rc != C.ISTIO_NOMAD_OK {
		return nil, takeError(rc, cerr)
	}
	return &Cluster{c: c}, nil
}

// ClusterForSpec returns the cluster a spec names (its nomad, consul and etcd addresses, the
// rest from NOMAD_ADDR, CONSUL_HTTP_ADDR, ETCDCTL_ENDPOINTS, ...), in memory when none is named.
func ClusterForSpec(spec []byte, format Format) (*Cluster, error) {
	p, n := input(spec)
	var c *C.IstioNomadCluster
	var cerr *C.IstioNomadError
	if rc := C.istio_nomad_cluster_for_spec(p, n, C.uint32_t(format), &c, &cerr); rc != C.ISTIO_NOMAD_OK {
		return nil, takeError(rc, cerr)
	}
	return &Cluster{c: c}, nil
}

// InMemory reports whether the cluster is in memory.
func (c *Cluster) InMemory() bool {
	return bool(C.istio_nomad_cluster_is_in_memory(c.c))
}

// Close releases the cluster. Closing twice is harmless.
func (c *Cluster) Close() {
	C.istio_nomad_cluster_free(&c.c)
}

// ApplyOptions tunes Apply and Destroy; nil fields keep the defaults.
type ApplyOptions struct {
	HealthDeadlineSecs *float64 `json:"health_deadline_secs,omitempty"`
	QueryWaitSecs      *float64 `json:"query_wait_secs,omitempty"`
	LockTTLSecs        *float64 `json:"lock_ttl_secs,omitempty"`
	LockWaitSecs       *float64 `json:"lock_wait_secs,omitempty"`
	Prune              *bool    `json:"prune,omitempty"`
	WaitForHealth      *bool    `json:"wait_for_health,omitempty"`
}

// Event is one progress event of Diff, Apply or Destroy.
type Event struct {
	// Name is the event kind: started, job_diffed, lock_acquired, stage_started,
	// job_registered, deployment_progress, job_healthy, job_unchanged, state_written,
	// job_deregistered, failed, finished.
	Name string `json:"event"`
	// Job is the job the event is about, when any.
	Job string `json:"job"`
	// Raw is the whole event document.
	Raw json.RawMessage `json:"-"`
}

// Writes counts what an operation wrote.
type Writes struct {
	Registers   uint64 `json:"registers"`
	Deregisters uint64 `json:"deregisters"`
	StateWrites uint64 `json:"state_writes"`
	Locks       uint64 `json:"locks"`
	Total       uint64 `json:"total"`
}

// DiffJob is what applying would do to one job.
type DiffJob struct {
	JobID          string   `json:"job_id"`
	Role           string   `json:"role"`
	Stage          int      `json:"stage"`
	Change         string   `json:"change"`
	JobModifyIndex uint64   `json:"job_modify_index"`
	ChangedFields  []string `json:"changed_fields"`
	Recorded       bool     `json:"recorded"`
	ContentHash    string   `json:"content_hash"`
}

// DiffReport compares a plan with the cluster.
type DiffReport struct {
	Mesh             string     `json:"mesh"`
	SpecHash         string     `json:"spec_hash"`
	RecordedSpecHash *string    `json:"recorded_spec_hash"`
	InSync           bool       `json:"in_sync"`
	Stages           [][]string `json:"stages"`
	Jobs             []DiffJob  `json:"jobs"`
	Removed          []string   `json:"removed"`
}

// AppliedJob is what an apply did to one job.
type AppliedJob struct {
	JobID          string `json:"job_id"`
	Action         string `json:"action"`
	Version        uint64 `json:"version"`
	JobModifyIndex uint64 `json:"job_modify_index"`
	StateWritten   bool   `json:"state_written"`
}

// ApplyReport is the outcome of Apply.
type ApplyReport struct {
	Mesh      string       `json:"mesh"`
	SpecHash  string       `json:"spec_hash"`
	Jobs      []AppliedJob `json:"jobs"`
	Created   []string     `json:"created"`
	Updated   []string     `json:"updated"`
	Unchanged []string     `json:"unchanged"`
	Removed   []string     `json:"removed"`
	Writes    Writes       `json:"writes"`
	Warnings  []string     `json:"warnings"`
	ElapsedMS uint64       `json:"elapsed_ms"`
}

// DestroyReport is the outcome of Destroy.
type DestroyReport struct {
	Mesh         string   `json:"mesh"`
	Deregistered []string `json:"deregistered"`
	Writes       Writes   `json:"writes"`
	Warnings     []string `json:"warnings"`
	ElapsedMS    uint64   `json:"elapsed_ms"`
}

func optionsJSON(opts *ApplyOptions) ([]byte, error) {
	if opts == nil {
		return nil, nil
	}
	return json.Marshal(opts)
}

func decode(doc []byte, into interface{}) error {
	if err := json.Unmarshal(doc, into); err != nil {
		return fmt.Errorf("istio-nomad: decoding the report: %w", err)
	}
	return nil
}

// Diff compares the plan of spec with the cluster; it writes nothing.
func (c *Cluster) Diff(spec []byte, format Format, progress func(Event)) (*DiffReport, error) {
	doc, err := withProgress(progress, func(cb C.IstioNomadProgressCallback, ud unsafe.Pointer) (C.IstioNomadResult, *C.IstioNomadString, *C.IstioNomadError) {
		p, n := input(spec)
		var out *C.IstioNomadString
		var cerr *C.IstioNomadError
		rc := C.istio_nomad_diff(c.c, p, n, C.uint32_t(format), cb, ud, &out, &cerr)
		return rc, out, cerr
	})
	if err != nil {
		return nil, err
	}
	var r DiffReport
	return &r, decode(doc, &r)
}

// Apply brings the cluster to the plan of spec (blocking), calling progress (may be nil) with
// each event on the calling goroutine.
func (c *Cluster) Apply(spec []byte, format Format, opts *ApplyOptions, progress func(Event)) (*ApplyReport, error) {
	o, err := optionsJSON(opts)
	if err != nil {
		return nil, err
	}
	doc, err := withProgress(progress, func(cb C.IstioNomadProgressCallback, ud unsafe.Pointer) (C.IstioNomadResult, *C.IstioNomadString, *C.IstioNomadError) {
		p, n := input(spec)
		op, on := input(o)
		var out *C.IstioNomadString
		var cerr *C.IstioNomadError
		rc := C.istio_nomad_apply(c.c, p, n, C.uint32_t(format), op, on, cb, ud, &out, &cerr)
		return rc, out, cerr
	})
	if err != nil {
		return nil, err
	}
	var r ApplyReport
	return &r, decode(doc, &r)
}

// Destroy deregisters the jobs of the plan of spec and clears the recorded state (blocking).
func (c *Cluster) Destroy(spec []byte, format Format, opts *ApplyOptions, progress func(Event)) (*DestroyReport, error) {
	o, err := optionsJSON(opts)
	if err != nil {
		return nil, err
	}
	doc, err := withProgress(progress, func(cb C.IstioNomadProgressCallback, ud unsafe.Pointer) (C.IstioNomadResult, *C.IstioNomadString, *C.IstioNomadError) {
		p, n := input(spec)
		op, on := input(o)
		var out *C.IstioNomadString
		var cerr *C.IstioNomadError
		rc := C.istio_nomad_destroy(c.c, p, n, C.uint32_t(format), op, on, cb, ud, &out, &cerr)
		return rc, out, cerr
	})
	if err != nil {
		return nil, err
	}
	var r DestroyReport
	return &r, decode(doc, &r)
}

func progressCallback() C.IstioNomadProgressCallback {
	return C.istio_nomad_go_progress_fn()
}
