job "web" {
  meta {
    note = "page\fbreak"
  }
}
