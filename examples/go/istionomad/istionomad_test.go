package istionomad

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var repo = filepath.Join("..", "..", "..")

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVersionMatchesHeader(t *testing.T) {
	if Version() != HeaderVersion() {
		t.Fatalf("library %q, header %q", Version(), HeaderVersion())
	}
}

func TestPlanBookinfoMatchesTheRustRendering(t *testing.T) {
	golden := read(t, "istio-nomad-ffi/tests/golden/bookinfo.plan.json")
	doc, err := PlanJSON(read(t, "examples/bookinfo.mesh.hcl"), FormatHCL)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, golden) {
		t.Fatalf("plan document differs from the golden file (%d vs %d bytes)", len(doc), len(golden))
	}
	plan, err := Plan(read(t, "istio-nomad-ffi/tests/golden/bookinfo.mesh.json"), FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Mesh != "bookinfo" || len(plan.SpecHash) != 64 {
		t.Fatalf("mesh %q, hash %q", plan.Mesh, plan.SpecHash)
	}
	ids := map[string]bool{}
	for _, j := range plan.Jobs {
		ids[j.ID] = true
		if !strings.Contains(j.HCL, "job \""+j.ID+"\"") {
			t.Errorf("job %s: HCL does not declare the job:\n%s", j.ID, j.HCL)
		}
	}
	staged := 0
	for _, stage := range plan.Order {
		for _, id := range stage {
			if !ids[id] {
				t.Errorf("stage lists unknown job %s", id)
			}
			staged++
		}
	}
	if staged != len(plan.Jobs) {
		t.Fatalf("%d jobs staged, %d planned", staged, len(plan.Jobs))
	}
}

func TestVerifyBookinfoMatchesTheRustReport(t *testing.T) {
	golden := read(t, "istio-nomad-ffi/tests/golden/bookinfo.verify.json")
	doc, err := VerifyJSON(read(t, "examples/bookinfo.mesh.hcl"), FormatHCL)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, golden) {
		t.Fatalf("verify report differs from the golden file (%d vs %d bytes)", len(doc), len(golden))
	}
	r, err := Verify(golden, FormatAuto)
	if err == nil {
		t.Fatalf("a report is not a mesh spec, got %+v", r)
	}
	// Istio 1.3 dials ADS at the discovery address as given; 15007 is Pilot's HTTP port.
	spec := strings.Replace(string(read(t, "examples/bookinfo.mesh.hcl")), `istio_version = "1.0.0"`,
		"istio_version = \"1.3.8\"\n  sidecar {\n    pilot_address = \"bookinfo-pilot.service.consul:15007\"\n  }", 1)
	r, err = Verify([]byte(spec), FormatHCL)
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasErrors() || r.Findings[0].Kind != "ads-port" || r.Findings[0].Path != "job[details].group[details].task[istio-proxy].config.args" {
		t.Fatalf("findings %+v", r.Findings)
	}
	if _, err := Plan([]byte(spec), FormatHCL); !errors.Is(err, ErrValidation) {
		t.Fatalf("Plan of a mesh that carries no traffic: %v", err)
	}
	// A release without the Consul registry is refused naming the field.
	old := strings.Replace(string(read(t, "examples/bookinfo.mesh.hcl")), `istio_version = "1.0.0"`, `istio_version = "1.8.0"`, 1)
	_, err = Verify([]byte(old), FormatHCL)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeValidation || len(e.Fields) == 0 || e.Fields[0].Path != "mesh.istio_version" {
		t.Fatalf("Verify of Istio 1.8.0: %v", err)
	}
}

func TestBadSpecIsAValidationErrorWithTheFieldPath(t *testing.T) {
	spec := strings.Replace(string(read(t, "examples/bookinfo.mesh.hcl")), "port = 9080", "port = 70000", 1)
	_, err := Plan([]byte(spec), FormatHCL)
	if !errors.Is(err, ErrValidation) {
		t.Fatalf("want a validation error, got %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %T", err)
	}
	if e.Code != CodeValidation || e.Family != "validation" || len(e.Fields) != 1 {
		t.Fatalf("%+v", e)
	}
	f := e.Fields[0]
	if f.Path != "mesh.service[productpage].port[http].port" || f.Value == nil || *f.Value != "70000" {
		t.Fatalf("field %+v", f)
	}
	if !strings.Contains(err.Error(), "VALIDATION") || !strings.Contains(err.Error(), f.Path) {
		t.Fatalf("message %q", err.Error())
	}
}

func TestValidateJobListsEveryProblem(t *testing.T) {
	if err := ValidateJob(read(t, "istio-nomad-ffi/tests/data/web.job.json"), FormatAuto); err != nil {
		t.Fatal(err)
	}
	err := ValidateJob(read(t, "istio-nomad-ffi/tests/data/web-invalid.job.json"), FormatJSON)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeValidation {
		t.Fatalf("got %v", err)
	}
	var paths []string
	for _, f := range e.Fields {
		paths = append(paths, f.Path)
	}
	want := []string{"job[web].priority", "job[web].group[api].count", "job[web].group[api].service[0].port"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Fatalf("paths %v, want %v", paths, want)
	}
}

func TestConvertJobMatchesTheRustRendering(t *testing.T) {
	job := read(t, "istio-nomad-ffi/tests/data/web.job.json")
	hcl, err := ConvertJob(job, FormatJSON, FormatHCL)
	if err != nil {
		t.Fatal(err)
	}
	if hcl != string(read(t, "istio-nomad-ffi/tests/golden/web.job.hcl")) {
		t.Fatalf("HCL differs from the golden file:\n%s", hcl)
	}
	back, err := ConvertJob([]byte(hcl), FormatAuto, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	if back != string(read(t, "istio-nomad-ffi/tests/golden/web.job.register.json")) {
		t.Fatalf("JSON differs from the golden file:\n%s", back)
	}
	_, err = ConvertJob(job, FormatJSON, FormatAuto)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("want an invalid argument, got %v", err)
	}
}

func TestConvertJobWithVariables(t *testing.T) {
	job := []byte(`variable "image" { type = string }
variable "count" { default = 1 }
job "web" {
  group "g" {
    count = var.count
    task "t" {
      driver = "docker"
      config { image = var.image }
    }
  }
}
`)
	out, err := ConvertJobWith(job, FormatHCL, FormatJSON, ReadOptions{
		Vars: map[string]interface{}{"image": "nginx:1.27", "count": 3},
		Env:  [][2]string{{"NOMAD_VAR_count", "2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Job struct {
			TaskGroups []struct {
				Count int
				Tasks []struct{ Config map[string]string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	g := doc.Job.TaskGroups[0]
	if g.Count != 3 || g.Tasks[0].Config["image"] != "nginx:1.27" {
		t.Fatalf("count %d, config %v", g.Count, g.Tasks[0].Config)
	}
	_, err = ConvertJobWith(job, FormatHCL, FormatJSON, ReadOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeParse || e.Kind != "variable" ||
		len(e.Fields) != 1 || e.Fields[0].Path != "variable[image]" {
		t.Fatalf("want the unset variable named, got %#v", err)
	}
	_, err = ConvertJobWith(job, FormatHCL, FormatJSON, ReadOptions{Vars: map[string]interface{}{"image": "x", "imgae": "y"}})
	if !errors.As(err, &e) || e.Kind != "variable" || e.Fields[0].Path != "variable[imgae]" {
		t.Fatalf("want the undeclared variable named, got %#v", err)
	}
}

func TestBoundaryErrors(t *testing.T) {
	_, err := Plan(nil, FormatHCL)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeParse || !strings.Contains(e.Message, "empty") {
		t.Fatalf("empty spec: %v", err)
	}
	_, err = Plan([]byte("mesh \"\xff\" {}"), FormatHCL)
	if !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	_, err = Plan([]byte("mesh \"a\" {\n  service \"x\" {"), FormatHCL)
	if !errors.As(err, &e) || e.Code != CodeParse {
		t.Fatalf("truncated: %v", err)
	}
}

func TestConcurrentPlans(t *testing.T) {
	spec := read(t, "examples/bookinfo.mesh.hcl")
	golden := read(t, "istio-nomad-ffi/tests/golden/bookinfo.plan.json")
	bad := []byte(strings.Replace(string(spec), "port = 9080", "port = 0", 1))
	var wg sync.WaitGroup
	errs := make(chan error, 16*10)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if (g+i)%3 == 0 {
					// failures interleaved with successes: each error belongs to its own call
					_, err := Plan(bad, FormatHCL)
					var e *Error
					if !errors.As(err, &e) || e.Code != CodeValidation || len(e.Fields) != 1 {
						errs <- err
					}
					continue
				}
				doc, err := PlanJSON(spec, FormatAuto)
				if err != nil {
					errs <- err
				} else if !bytes.Equal(doc, golden) {
					errs <- errors.New("concurrent plan differs from the golden file")
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestIptablesMatchesTheRustRendering(t *testing.T) {
	config := read(t, "istio-nomad-ffi/tests/data/intercept.json")
	all, err := RenderIptables(config, IptablesAll)
	if err != nil {
		t.Fatal(err)
	}
	if all != string(read(t, "istio-nomad-ffi/tests/golden/intercept.iptables.json")) {
		t.Fatal("ALL document differs from the golden file")
	}
	rules, err := Iptables(config)
	if err != nil {
		t.Fatal(err)
	}
	restore, err := RenderIptables(config, IptablesRestore)
	if err != nil {
		t.Fatal(err)
	}
	if restore != rules.Restore.IPv4 || restore != string(read(t, "istio-nomad-ffi/tests/golden/intercept.restore.rules")) {
		t.Fatal("IPv4 restore differs")
	}
	if rules.Restore.IPv6 == nil || len(rules.IPCommands) == 0 {
		t.Fatalf("IPv6 and TPROXY routes expected: %+v", rules)
	}
	_, err = RenderIptables(read(t, "istio-nomad-ffi/tests/data/intercept-invalid.json"), IptablesShell)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeValidation || len(e.Fields) != 2 || e.Fields[0].Path != "intercept.proxy_port" {
		t.Fatalf("got %v", err)
	}
}

func TestSidecarInjectAndRemove(t *testing.T) {
	job := read(t, "istio-nomad-ffi/tests/data/web.job.json")
	opts := read(t, "istio-nomad-ffi/tests/data/sidecar-options.json")
	hcl, err := InjectSidecar(job, FormatAuto, opts, FormatHCL)
	if err != nil {
		t.Fatal(err)
	}
	if hcl != string(read(t, "istio-nomad-ffi/tests/golden/web.injected.hcl")) {
		t.Fatal("injected job differs from the golden file")
	}
	back, err := RemoveSidecar([]byte(hcl), FormatHCL, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	if back != string(read(t, "istio-nomad-ffi/tests/golden/web.job.register.json")) {
		t.Fatalf("removal did not restore the job:\n%s", back)
	}
	_, err = InjectSidecar(job, FormatJSON, read(t, "istio-nomad-ffi/tests/data/sidecar-options-invalid.json"), FormatHCL)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeValidation || len(e.Fields) != 2 {
		t.Fatalf("got %v", err)
	}
	if e.Fields[0].Path != "sidecar.ready_timeout" || e.Fields[1].Path != "sidecar.cpu" {
		t.Fatalf("fields %+v", e.Fields)
	}
}

func TestApplyDiffDestroyInMemory(t *testing.T) {
	spec := read(t, "examples/bookinfo.mesh.hcl")
	c, err := NewInMemoryCluster()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.InMemory() {
		t.Fatal("not in memory")
	}
	before, err := c.Diff(spec, FormatHCL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if before.InSync || len(before.Jobs) != 10 || before.Jobs[0].Change != "create" {
		t.Fatalf("diff before apply: %+v", before)
	}
	var events []Event
	report, err := c.Apply(spec, FormatHCL, nil, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Jobs) != 10 || report.Jobs[0].Action != "created" || report.Writes.Registers != 10 {
		t.Fatalf("apply: %+v", report)
	}
	if events[0].Name != "started" || events[len(events)-1].Name != "finished" {
		t.Fatalf("events: first %s, last %s", events[0].Name, events[len(events)-1].Name)
	}
	healthy := map[string]bool{}
	for _, e := range events {
		if e.Name == "job_healthy" {
			healthy[e.Job] = true
		}
	}
	if len(healthy) != 10 {
		t.Fatalf("healthy jobs: %v", healthy)
	}
	after, err := c.Diff(spec, FormatAuto, nil)
	if err != nil || !after.InSync {
		t.Fatalf("diff after apply: %+v %v", after, err)
	}
	ttl := 5.0
	again, err := c.Apply(spec, FormatAuto, &ApplyOptions{LockTTLSecs: &ttl}, nil)
	if err != nil || again.Writes.Total != 0 {
		t.Fatalf("second apply: %+v %v", again, err)
	}
	if len(again.Unchanged) != 10 || again.Jobs[0].JobID == "" || again.Jobs[0].Action != "unchanged" {
		t.Fatalf("second apply jobs: %+v", again)
	}
	gone, err := c.Destroy(spec, FormatAuto, nil, nil)
	if err != nil || len(gone.Deregistered) != 10 {
		t.Fatalf("destroy: %+v %v", gone, err)
	}
	zero := 0.0
	_, err = c.Apply(spec, FormatAuto, &ApplyOptions{LockTTLSecs: &zero}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeValidation || e.Fields[0].Path != "lock_ttl" {
		t.Fatalf("bad options: %v", err)
	}
	c.Close()
	c.Close()
	if _, err := c.Diff(spec, FormatAuto, nil); !errors.Is(err, ErrNullArgument) {
		t.Fatalf("use after Close: %v", err)
	}
}
