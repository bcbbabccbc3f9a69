mesh "m" {
  service "web" {
    image = "nginx:1.27"
    port "http" {
      port = 0
    }
  }
}
