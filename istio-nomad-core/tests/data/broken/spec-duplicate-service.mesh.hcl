mesh "m" {
  service "web" {
    image = "nginx:1.27"
    port "http" { port = 80 }
  }
  service "web" {
    image = "nginx:1.28"
    port "http" { port = 80 }
  }
}
