job "details" {
  region = "global"
  namespace = "default"
  type = "service"
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "app"
  }

  update {
    max_parallel = 1
    health_check = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
    progress_deadline = "10m"
    auto_revert = true
  }

  group "details" {
    count = 1

    restart {
      attempts = 2
      interval = "30m"
      delay = "15s"
      mode = "fail"
    }

    reschedule {
      delay = "30s"
      delay_function = "exponential"
      max_delay = "1h"
      unlimited = true
    }

    network {
      mode = "bridge"

      port "http" {
        to = 9080
      }
    }

    service {
      name = "details"
      port = "http"
      tags = ["version|v1"]

      meta {
        protocol = "http"
      }

      check {
        name = "details-http-tcp"
        type = "tcp"
        port = "http"
        interval = "10s"
        timeout = "2s"
      }

      check_restart {
        limit = 3
        grace = "30s"
      }
    }

    task "app" {
      driver = "docker"

      config {
        image = "docker.io/istio/examples-bookinfo-details-v1:1.8.0"
        ports = ["http"]
      }

      env {
        SERVICE_VERSION = "v1"
      }

      resources {
        cpu = 100
        memory = 128
      }
    }
  }
}
