mesh "m" {
  region = "café"
}
