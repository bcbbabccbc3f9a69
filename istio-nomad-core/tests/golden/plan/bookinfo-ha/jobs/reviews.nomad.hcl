job "reviews" {
  region = "global"
  namespace = "default"
  type = "service"
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "app"
  }

  constraint {
    attribute = "${attr.kernel.name}"
    operator = "="
    value = "linux"
  }

  update {
    max_parallel = 1
    health_check = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
    progress_deadline = "10m"
    auto_revert = true
  }

  group "reviews-v1" {
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
      name = "reviews"
      port = "http"
      tags = ["version|v1"]

      meta {
        protocol = "http"
      }

      check {
        name = "reviews-http-tcp"
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
        image = "docker.io/istio/examples-bookinfo-reviews-v1:1.8.0"
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

  group "reviews-v2" {
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
      name = "reviews"
      port = "http"
      tags = ["version|v2"]

      meta {
        protocol = "http"
      }

      check {
        name = "reviews-http-tcp"
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
        image = "docker.io/istio/examples-bookinfo-reviews-v2:1.8.0"
        ports = ["http"]
      }

      env {
        SERVICE_VERSION = "v2"
      }

      resources {
        cpu = 100
        memory = 128
      }
    }
  }

  group "reviews-v3" {
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
      name = "reviews"
      port = "http"
      tags = ["version|v3"]

      meta {
        protocol = "http"
      }

      check {
        name = "reviews-http-tcp"
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
        image = "docker.io/istio/examples-bookinfo-reviews-v3:1.8.0"
        ports = ["http"]
      }

      env {
        SERVICE_VERSION = "v3"
      }

      resources {
        cpu = 100
        memory = 128
      }
    }
  }
}
