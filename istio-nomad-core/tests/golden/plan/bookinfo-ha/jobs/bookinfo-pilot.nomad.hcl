job "bookinfo-pilot" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 80
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "pilot"
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

  group "pilot" {
    count = 2

    constraint {
      operator = "distinct_hosts"
      value = "true"
    }

    spread {
      attribute = "${node.unique.id}"
      weight = 100
    }

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
        static = 15007
      }

      port "grpc" {
        static = 15010
      }

      port "monitoring" {}
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

      check {
        name = "pilot-metrics"
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
        args = ["discovery", "--httpAddr", ":15007", "--grpcAddr", ":15010", "--secureGrpcAddr", "", "--monitoringAddr", ":${NOMAD_PORT_monitoring}", "--registries", "Consul", "--consulserverURL", "http://127.0.0.1:8500", "--consulserverInterval", "2s", "--kubeconfig", "/etc/istio/config/kubeconfig", "--meshConfig", "/etc/istio/config/mesh"]
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
    server: https://bookinfo-apiserver.service.consul:{{ range $i, $s := service "bookinfo-apiserver" }}{{ if eq $i 0 }}{{ $s.Port }}{{ end }}{{ end }}
    certificate-authority: /secrets/ca.crt
users:
- name: pilot
  user:
    client-certificate: /secrets/client.crt
    client-key: /secrets/client.key
contexts:
- name: bookinfo
  context:
    cluster: bookinfo
    user: pilot
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
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-pilot" "ttl=72h" }}{{ .Data.certificate }}{{ end }}
EOT
      }

      template {
        destination = "secrets/client.key"
        change_mode = "restart"
        splay = "5s"
        perms = "0600"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-pilot" "ttl=72h" }}{{ .Data.private_key }}{{ end }}
EOT
      }

      template {
        destination = "secrets/ca.crt"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-pilot" "ttl=72h" }}{{ .Data.issuing_ca }}{{ end }}
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
mixerCheckServer: bookinfo-mixer.service.consul:9091
mixerReportServer: bookinfo-mixer.service.consul:9091
disablePolicyChecks: true
defaultConfig:
  discoveryAddress: bookinfo-pilot-grpc.service.consul:15010
  controlPlaneAuthPolicy: NONE
  zipkinAddress: bookinfo-zipkin.service.consul:9411
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
