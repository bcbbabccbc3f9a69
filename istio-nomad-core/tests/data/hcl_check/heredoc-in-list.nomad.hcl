job "web" {
  group "web" {
    task "istio-init" {
      driver = "docker"

      config {
        image = "docker.io/istio/proxy_init:1.0.0"
        entrypoint = ["/bin/sh", "-c"]
        args = [<<EOT
set -e
iptables-restore --noflush < /local/istio-iptables.rules
EOT]
        cap_add = ["NET_ADMIN", "NET_RAW"]
      }
    }
  }
}
