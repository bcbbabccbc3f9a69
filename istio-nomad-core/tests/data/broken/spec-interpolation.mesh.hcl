mesh "m" {
  service "web" {
    image = "nginx:${var.tag}"
    port "http" { port = 80 }
  }
}
