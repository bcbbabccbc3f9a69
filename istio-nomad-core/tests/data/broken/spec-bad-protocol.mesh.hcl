mesh "m" {
  service "web" {
    image    = "nginx:1.27"
    protocol = "carrier-pigeon"
    port "http" { port = 80 }
  }
}
