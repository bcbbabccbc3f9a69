job "bookinfo-zipkin" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 50
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "zipkin"
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

  group "zipkin" {
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
        static = 9411
        to = 9411
      }
    }

    service {
      name = "bookinfo-zipkin"
      port = "http"

      check {
        name = "zipkin-health"
        type = "http"
        path = "/health"
        port = "http"
        interval = "10s"
        timeout = "2s"
      }

      check_restart {
        limit = 3
        grace = "1m"
      }
    }

    task "zipkin" {
      driver = "docker"

      config {
        image = "docker.io/openzipkin/zipkin:2.7"
        ports = ["http"]
      }

      resources {
        cpu = 200
        memory = 512
      }
    }
  }
}
