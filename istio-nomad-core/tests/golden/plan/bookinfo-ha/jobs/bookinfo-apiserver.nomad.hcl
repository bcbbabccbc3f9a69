job "bookinfo-apiserver" {
  region = "global"
  namespace = "default"
  type = "service"
  priority = 85
  datacenters = ["dc1"]
  meta = {
    "istio-nomad.mesh" = "bookinfo"
    "istio-nomad.role" = "apiserver"
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

  group "apiserver" {
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

      port "https" {
        static = 6443
        to = 6443
      }
    }

    service {
      name = "bookinfo-apiserver"
      port = "https"

      check {
        name = "apiserver-tls"
        type = "tcp"
        port = "https"
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
        args = ["--etcd-servers=http://etcd-0.bookinfo-etcd.service.consul:2379,http://etcd-1.bookinfo-etcd.service.consul:2379,http://etcd-2.bookinfo-etcd.service.consul:2379", "--storage-backend=etcd3", "--service-cluster-ip-range=10.99.0.0/16", "--bind-address=0.0.0.0", "--secure-port=6443", "--insecure-port=0", "--tls-cert-file=/secrets/apiserver.crt", "--tls-private-key-file=/secrets/apiserver.key", "--client-ca-file=/secrets/ca.crt", "--anonymous-auth=false", "--authorization-mode=AlwaysAllow", "-v=2"]
        ports = ["https"]
        command = "kube-apiserver"
      }

      resources {
        cpu = 500
        memory = 512
      }

      template {
        destination = "secrets/apiserver.crt"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-apiserver.service.consul" "alt_names=localhost" "ip_sans=127.0.0.1" "ttl=72h" }}{{ .Data.certificate }}{{ end }}
EOT
      }

      template {
        destination = "secrets/apiserver.key"
        change_mode = "restart"
        splay = "5s"
        perms = "0600"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-apiserver.service.consul" "alt_names=localhost" "ip_sans=127.0.0.1" "ttl=72h" }}{{ .Data.private_key }}{{ end }}
EOT
      }

      template {
        destination = "secrets/ca.crt"
        change_mode = "restart"
        splay = "5s"
        perms = "0644"
        error_on_missing_key = false
        data = <<EOT
{{ with secret "pki/issue/istio-nomad" "common_name=bookinfo-apiserver.service.consul" "alt_names=localhost" "ip_sans=127.0.0.1" "ttl=72h" }}{{ .Data.issuing_ca }}{{ end }}
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
