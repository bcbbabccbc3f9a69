job "web" {
  group "api" {
    task "app" {
      driver = "docker"
      config { image = "nginx" }
    }
    task "app" {
      driver = "docker"
      config { image = "nginx" }
    }
  }
}
