job "web" {
  type = "service"
  datacenters = ["dc1"]

  meta {
    team = "payments"
  }

  group "api" {
    count = 2

    network {
      mode = "bridge"

      port "http" {
        to = 8080
      }
    }

    service {
      name = "web-api"
      port = "http"
      tags = ["version|v1"]
    }

    task "app" {
      driver = "docker"

      config {
        image = "nginx:1.27"
        ports = ["http"]
      }

      env {
        LISTEN = "${NOMAD_PORT_http}"
      }

      resources {
        cpu = 200
        memory = 128
      }
    }
  }
}
