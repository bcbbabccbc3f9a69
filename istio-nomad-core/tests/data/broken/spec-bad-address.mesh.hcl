mesh "m" {
  nomad {
    address = "ftp://nomad:4646"
  }
}
