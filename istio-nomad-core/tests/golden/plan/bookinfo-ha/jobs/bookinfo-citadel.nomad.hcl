job "bookinfo-citadel" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 80
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "citadel"
    "istio-nomad.profile" = "ha"
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

  group "citadel" {
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

      port "grpc" {
        static = 8060
        to = 8060
      }

      port "monitoring" {
        to = 9093
      }
    }

    service {
      name = "bookinfo-citadel"
      port = "grpc"

      check {
        name = "citadel-grpc"
        type = "tcp"
        port = "grpc"
        interval = "10s"
        timeout = "2s"
      }

      check {
        name = "citadel-metrics"
        type = "http"
        path = "/metrics"
        port = "monitoring"
        interval = "10s"
        timeout = "2s"
      }

      check_restart {
        limit = 3
        grace = "1m"
      }
    }

    task "citadel" {
      driver = "docker"

      config {
        image = "docker.io/istio/citadel:1.0.0"
        args = ["--grpc-port", "8060", "--monitoring-port", "9093", "--self-signed-ca=true", "--kube-config", "/etc/istio/config/kubeconfig", "--citadel-storage-namespace", "default"]
        ports = ["grpc", "monitoring"]
        volumes = ["local/kubeconfig:/etc/istio/config/kubeconfig"]
      }

      resources {
        cpu = 200
        memory = 256
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
    server: https://bookinfo-apiserver.service.consul:{{ range $i, $s := service "bookinfo-apiserver" }}{{ if eq $i 0 }}{{ $s.Port }}{{ end }}{{ end }}
    certificate-authority: /secrets/ca.crt
users:
- name: citadel
  user:
    client-certificate: /secrets/client.crt
    client-key: /secrets/client.key
contexts:
- name: bookinfo
  context:
    cluster: bookinfo
    user: citadel
current-context: bookinfo
EOT
      }

      template {
        destination = "secrets/client.crt"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-citadel" "ttl=72h" }}{{ .Data.certificate }}{{ end }}
EOT
      }

      template {
        destination = "secrets/client.key"
        change_mode = "restart"
        splay = "5s"
        perms = "0600"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-citadel" "ttl=72h" }}{{ .Data.private_key }}{{ end }}
EOT
      }

      template {
        destination = "secrets/ca.crt"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-citadel" "ttl=72h" }}{{ .Data.issuing_ca }}{{ end }}
EOT
      }

      vault {
        policies = ["istio-nomad-pki"]
        env = true
        disable_file = false
        change_mode = "restart"
      }
    }
  }
}
