job "web" {
  group "api" {
    network {
      mode = "bridge"
      port "http" { to = 8080 }
    }
    service {
      name = "web"
      port = "admin"
    }
    task "app" {
      driver = "docker"
      config { image = "nginx" }
    }
  }
}
