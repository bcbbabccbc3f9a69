job "web" {
  group "api" {
    task "init" {
      lifecycle { hook = "before" }
      driver = "docker"
      config { image = "busybox" }
    }
    task "app" {
      driver = "docker"
      config { image = "nginx" }
    }
  }
}
