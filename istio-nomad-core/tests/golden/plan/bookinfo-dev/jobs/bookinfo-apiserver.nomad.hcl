job "bookinfo-apiserver" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 85
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "apiserver"
    "istio-nomad.profile" = "dev"
    "istio-nomad.istio-version" = "1.0.0"
  }

  update {
    max_parallel = 1
    health_check = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
    progress_deadline = "10m"
    auto_revert = true
  }

  group "apiserver" {
    count = 1

    restart {
      attempts = 10
      interval = "30m"
      delay = "15s"
      mode = "delay"
    }

    reschedule {
      delay = "30s"
      delay_function = "exponential"
      max_delay = "1h"
      unlimited = true
    }

    network {
      mode = "host"

      port "http" {
        static = 8080
        to = 8080
      }
    }

    service {
      name = "bookinfo-apiserver"
      port = "http"

      check {
        name = "apiserver-healthz"
        type = "http"
        path = "/healthz"
        port = "http"
        interval = "10s"
        timeout = "2s"
      }

      check_restart {
        limit = 3
        grace = "1m"
      }
    }

    task "apiserver" {
      driver = "docker"

      config {
        image = "gcr.io/google_containers/kube-apiserver-amd64:v1.7.3"
        args = ["--etcd-servers", "http://bookinfo-etcd.service.consul:2379", "--service-cluster-ip-range", "10.99.0.0/16", "--insecure-port", "8080", "-v", "2", "--insecure-bind-address", "0.0.0.0"]
        ports = ["http"]
        command = "kube-apiserver"
        privileged = true
      }

      resources {
        cpu = 500
        memory = 512
      }
    }
  }
}
