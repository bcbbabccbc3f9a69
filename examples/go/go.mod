module github.com/istio-nomad/istio-nomad/examples/go

go 1.19
