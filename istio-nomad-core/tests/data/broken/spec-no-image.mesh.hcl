mesh "m" {
  service "web" {
    port "http" { port = 80 }
  }
}
