job "bookinfo-pilot" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 80
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "pilot"
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

  group "pilot" {
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
        static = 8081
      }

      port "grpc" {
        static = 15010
      }
    }

    service {
      name = "bookinfo-pilot"
      port = "http"

      check {
        name = "pilot-http"
        type = "tcp"
        port = "http"
        interval = "10s"
        timeout = "2s"
      }

      check_restart {
        limit = 3
        grace = "1m"
      }
    }

    service {
      name = "bookinfo-pilot-grpc"
      port = "grpc"

      check {
        name = "pilot-grpc"
        type = "tcp"
        port = "grpc"
        interval = "10s"
        timeout = "2s"
      }
    }

    task "pilot" {
      driver = "docker"

      config {
        image = "docker.io/istio/pilot:1.0.0"
        args = ["discovery", "--httpAddr", ":8081", "--registries", "Consul", "--consulserverURL", "http://127.0.0.1:8500", "--kubeconfig", "/etc/istio/config/kubeconfig", "--meshConfig", "/etc/istio/config/mesh"]
        volumes = ["local/kubeconfig:/etc/istio/config/kubeconfig", "local/mesh:/etc/istio/config/mesh"]
        network_mode = "host"
      }

      resources {
        cpu = 500
        memory = 1024
      }

      template {
        destination = "local/kubeconfig"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
apiVersion: v1
kind: Config
clusters:
- name: bookinfo
  cluster:
    server: http://bookinfo-apiserver.service.consul:{{ range $i, $s := service "bookinfo-apiserver" }}{{ if eq $i 0 }}{{ $s.Port }}{{ end }}{{ end }}
users:
- name: pilot
  user:
    {}
contexts:
- name: bookinfo
  context:
    cluster: bookinfo
    user: pilot
current-context: bookinfo
EOT
      }

      template {
        destination = "local/mesh"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
# Mesh configuration of bookinfo for Istio 1.0.0 (pilot-discovery --meshConfig).
defaultConfig:
  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010
  controlPlaneAuthPolicy: NONE
  zipkinAddress: bookinfo-zipkin.service.consul:9411
EOT
      }
    }
  }
}
