job "bookinfo-etcd" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 90
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "etcd"
    "istio-nomad.profile" = "dev"
    "istio-nomad.istio-version" = "1.0.0"
  }

  update {
    max_parallel = 1
    health_check = "checks"
    min_healthy_time = "30s"
    healthy_deadline = "5m"
    progress_deadline = "10m"
    auto_revert = true
  }

  group "etcd" {
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

    ephemeral_disk {
      size = 1024
      sticky = true
      migrate = true
    }

    network {
      mode = "host"

      port "client" {
        static = 2379
        to = 2379
      }

      port "peer" {
        static = 2380
        to = 2380
      }

      port "legacy" {
        static = 4001
        to = 4001
      }
    }

    service {
      name = "bookinfo-etcd"
      port = "client"

      check {
        name = "etcd-health"
        type = "http"
        path = "/health"
        port = "client"
        interval = "10s"
        timeout = "2s"
      }
    }

    task "etcd" {
      driver = "docker"
      kill_timeout = "30s"

      config {
        image = "quay.io/coreos/etcd:latest"
        args = ["-advertise-client-urls=http://0.0.0.0:2379", "-listen-client-urls=http://0.0.0.0:2379"]
        ports = ["client", "peer", "legacy"]
        command = "/usr/local/bin/etcd"
        work_dir = "${NOMAD_ALLOC_DIR}/data"
      }

      resources {
        cpu = 200
        memory = 256
      }
    }
  }
}
