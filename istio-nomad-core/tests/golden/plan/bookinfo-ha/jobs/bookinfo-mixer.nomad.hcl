job "bookinfo-mixer" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 80
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "mixer"
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

  group "mixer" {
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

      port "grpc" {
        static = 9091
        to = 9091
      }

      port "monitoring" {
        to = 9093
      }
    }

    service {
      name = "bookinfo-mixer"
      port = "grpc"

      check {
        name = "mixer-grpc"
        type = "tcp"
        port = "grpc"
        interval = "10s"
        timeout = "2s"
      }

      check {
        name = "mixer-metrics"
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

    task "mixer" {
      driver = "docker"

      config {
        image = "docker.io/istio/mixer:1.0.0"
        args = ["server", "--port", "9091", "--monitoringPort", "9093", "--configStoreURL", "k8s:///etc/istio/config/kubeconfig", "--configDefaultNamespace", "istio-system", "--trace_zipkin_url", "http://bookinfo-zipkin.service.consul:9411/api/v1/spans"]
        ports = ["grpc", "monitoring"]
        volumes = ["local/kubeconfig:/etc/istio/config/kubeconfig"]
      }

      resources {
        cpu = 500
        memory = 512
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
- name: mixer
  user:
    client-certificate: /secrets/client.crt
    client-key: /secrets/client.key
contexts:
- name: bookinfo
  context:
    cluster: bookinfo
    user: mixer
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
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-mixer" "ttl=72h" }}{{ .Data.certificate }}{{ end }}
EOT
      }

      template {
        destination = "secrets/client.key"
        change_mode = "restart"
        splay = "5s"
        perms = "0600"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-mixer" "ttl=72h" }}{{ .Data.private_key }}{{ end }}
EOT
      }

      template {
        destination = "secrets/ca.crt"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-mixer" "ttl=72h" }}{{ .Data.issuing_ca }}{{ end }}
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
