mesh "a" {}
mesh "b" {}
