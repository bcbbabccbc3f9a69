job "web" {
  group "api" {
    count = "three"
    task "app" {
      driver = "docker"
    }
  }
}
