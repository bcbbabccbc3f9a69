mesh "m" {
  service "web" {
    image = "nginx:1.27
  }
}
