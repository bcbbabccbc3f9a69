job "productpage" {
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

  group "productpage" {
    count = 2
    meta = {
      "istio-nomad.injected" = "true"
      "istio-nomad.undo" = "{\"tasks\":[\"istio-init\",\"istio-proxy\",\"istio-ready\"],\"address_modes\":[{\"service\":0,\"was\":null},{\"service\":0,\"check\":0,\"was\":null}],\"meta\":{\"istio-nomad.injected\":null,\"istio-nomad.undo\":null}}"
    }

    spread {
      attribute = "${node.unique.id}"
      weight = 50
    }

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
      name = "productpage"
      port = "http"
      tags = ["version|v1"]
      address_mode = "alloc"

      meta {
        protocol = "http"
      }

      check {
        name = "productpage-http-tcp"
        type = "tcp"
        port = "http"
        address_mode = "alloc"
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
        image = "docker.io/istio/examples-bookinfo-productpage-v1:1.8.0"
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

    task "istio-init" {
      driver = "docker"

      lifecycle {
        hook = "prestart"
        sidecar = false
      }

      config {
        image = "docker.io/istio/proxy_init:1.0.0"
        entrypoint = ["/bin/sh", "-c"]
        args = [<<EOT
set -e
iptables-restore --noflush < /local/istio-iptables.cleanup.rules 2>/dev/null || true
iptables-restore --noflush < /local/istio-iptables.rules
EOT]
        cap_add = ["NET_ADMIN", "NET_RAW"]
      }

      resources {
        cpu = 50
        memory = 32
      }

      logs {
        max_files = 2
        max_file_size = 2
      }

      template {
        destination = "local/istio-iptables.rules"
        change_mode = "noop"
        splay = "5s"
        perms = "0644"
        left_delimiter = "[[istio-nomad:"
        right_delimiter = ":istio-nomad]]"
        error_on_missing_key = false
        data = <<EOT
*nat
:ISTIO_REDIRECT - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_OUTPUT - [0:0]
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A OUTPUT -p tcp -j ISTIO_OUTPUT
COMMIT
EOT
      }

      template {
        destination = "local/istio-iptables.cleanup.rules"
        change_mode = "noop"
        splay = "5s"
        perms = "0644"
        left_delimiter = "[[istio-nomad:"
        right_delimiter = ":istio-nomad]]"
        error_on_missing_key = false
        data = <<EOT
*nat
:ISTIO_OUTPUT - [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_REDIRECT - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
-D PREROUTING -p tcp -j ISTIO_INBOUND
-D OUTPUT -p tcp -j ISTIO_OUTPUT
-X ISTIO_OUTPUT
-X ISTIO_INBOUND
-X ISTIO_REDIRECT
-X ISTIO_IN_REDIRECT
COMMIT
EOT
      }
    }

    task "istio-proxy" {
      driver = "docker"
      user = "1337"

      lifecycle {
        hook = "prestart"
        sidecar = true
      }

      config {
        image = "docker.io/istio/proxy_debug:1.0.0"
        entrypoint = ["/usr/local/bin/pilot-agent"]
        args = ["proxy", "--serviceregistry", "Consul", "--serviceCluster", "productpage", "--discoveryAddress", "bookinfo-pilot.service.consul:15007", "--proxyAdminPort", "15000", "--configPath", "/var/lib/istio"]
      }

      resources {
        cpu = 100
        memory = 128
      }

      logs {
        max_files = 2
        max_file_size = 10
      }
    }

    task "istio-ready" {
      driver = "docker"

      lifecycle {
        hook = "prestart"
        sidecar = false
      }

      config {
        image = "docker.io/library/busybox:1.36"
        entrypoint = ["/bin/sh", "-c"]
        args = [<<EOT
deadline=$(( $(date +%s) + 120 ))
until wget -q -O /dev/null http://127.0.0.1:15000/server_info; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "istio-proxy not ready after 120s (http://127.0.0.1:15000/server_info)" >&2
    exit 1
  fi
  sleep 1
done
echo "istio-proxy ready"
EOT]
      }

      resources {
        cpu = 20
        memory = 16
      }

      logs {
        max_files = 2
        max_file_size = 2
      }
    }
  }
}
