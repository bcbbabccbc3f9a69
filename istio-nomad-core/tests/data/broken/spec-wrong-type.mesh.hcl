mesh "m" {
  service "web" {
    image = "nginx:1.27"
    count = "three"
    port "http" { port = 80 }
  }
}
