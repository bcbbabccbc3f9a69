// Command plan-mesh plans an istio-nomad mesh spec through the C ABI and prints the
// dependency stages; with -out it writes the whole plan document (every job as HCL and JSON,
// the iptables rules, the VM bundles, the order).
//
//	cargo build -p istio-nomad-ffi
//	cd examples/go && go run ./cmd/plan-mesh ../bookinfo.mesh.hcl
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/istio-nomad/istio-nomad/examples/go/istionomad"
)

func main() {
	out := flag.String("out", "", "write the plan document (JSON) to this file")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: plan-mesh [-out plan.json] <mesh spec (.hcl or .json)>\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		var e *istionomad.Error
		if errors.As(err, &e) {
			for _, f := range e.Fields {
				fmt.Fprintf(os.Stderr, "  at %s: %s\n", f.Path, f.Message)
			}
		}
		os.Exit(1)
	}
}

func run(path, out string) error {
	spec, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := istionomad.PlanJSON(spec, istionomad.FormatAuto)
	if err != nil {
		return err
	}
	plan, err := istionomad.Plan(spec, istionomad.FormatAuto)
	if err != nil {
		return err
	}
	fmt.Printf("istio-nomad %s: mesh %s, %d jobs\n", istionomad.Version(), plan.Mesh, len(plan.Jobs))
	for i, stage := range plan.Order {
		fmt.Printf("stage %d: %s\n", i+1, strings.Join(stage, ", "))
	}
	if out != "" {
		if err := os.WriteFile(out, doc, 0o644); err != nil {
			return err
		}
		fmt.Printf("plan written to %s (%d bytes)\n", out, len(doc))
	}
	return nil
}
