job "bookinfo-etcd" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 90
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "etcd"
    "istio-nomad.profile" = "ha"
    "istio-nomad.istio-version" = "1.0.0"
  }

  constraint {
    operator = "distinct_hosts"
    value = "true"
  }

  spread {
    attribute = "${node.unique.id}"
    weight = 100
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
    count = 3

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
    }

    service {
      name = "bookinfo-etcd"
      port = "client"
      tags = ["etcd-${NOMAD_ALLOC_INDEX}"]

      check {
        name = "etcd-${NOMAD_ALLOC_INDEX}-health"
        type = "http"
        path = "/health"
        port = "client"
        interval = "10s"
        timeout = "2s"
      }
    }

    service {
      name = "bookinfo-etcd-peer"
      port = "peer"
      tags = ["etcd-${NOMAD_ALLOC_INDEX}"]

      check {
        name = "etcd-${NOMAD_ALLOC_INDEX}-peer"
        type = "tcp"
        port = "peer"
        interval = "10s"
        timeout = "2s"
      }
    }

    task "etcd" {
      driver = "docker"
      kill_timeout = "30s"

      config {
        image = "quay.io/coreos/etcd:v3.4.23"
        args = ["--name=etcd-${NOMAD_ALLOC_INDEX}", "--data-dir=${NOMAD_ALLOC_DIR}/data/etcd-${NOMAD_ALLOC_INDEX}", "--listen-peer-urls=http://0.0.0.0:${NOMAD_PORT_peer}", "--listen-client-urls=http://0.0.0.0:${NOMAD_PORT_client}", "--advertise-client-urls=http://etcd-${NOMAD_ALLOC_INDEX}.bookinfo-etcd.service.consul:2379", "--initial-advertise-peer-urls=http://etcd-${NOMAD_ALLOC_INDEX}.bookinfo-etcd-peer.service.consul:2380", "--initial-cluster=etcd-0=http://etcd-0.bookinfo-etcd-peer.service.consul:2380,etcd-1=http://etcd-1.bookinfo-etcd-peer.service.consul:2380,etcd-2=http://etcd-2.bookinfo-etcd-peer.service.consul:2380", "--initial-cluster-state=new", "--initial-cluster-token=bookinfo-etcd"]
        ports = ["client", "peer"]
        command = "/usr/local/bin/etcd"
      }

      resources {
        cpu = 500
        memory = 512
      }
    }
  }
}
