mesh "m" {
  datacentres = ["dc1"]
}
