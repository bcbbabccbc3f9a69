mesh "m" {
  service "web;reboot" {
    image = "nginx:1.27"
    port "http" { port = 80 }
  }
}
