job "binstore-storagelocker" {
  region = "fooregion"
  namespace = "foonamespace"
  type = "batch"
  priority = 52
  all_at_once = true
  datacenters = ["us2", "eu1"]
  consul_token = "abc"
  vault_token = "foo"

  meta {
    foo = "bar"
  }

  constraint {
    attribute = "kernel.os"
    operator = "="
    value = "windows"
  }

  constraint {
    attribute = "${attr.vault.version}"
    operator = "semver"
    value = ">= 0.6.1"
  }

  affinity {
    attribute = "${meta.team}"
    operator = "="
    value = "mobile"
    weight = 50
  }

  spread {
    attribute = "${meta.rack}"
    weight = 100

    target "r1" {
      percent = 40
    }

    target "r2" {
      percent = 60
    }
  }

  update {
    max_parallel = 2
    health_check = "manual"
    min_healthy_time = "10s"
    healthy_deadline = "10m"
    progress_deadline = "10m"
    stagger = "1m"
    canary = 1
    auto_revert = true
    auto_promote = true
  }

  group "binsl" {
    count = 5
    stop_after_client_disconnect = "2m"

    meta {
      elb_mode = "tcp"
      elb_interval = "10"
      elb_checks = "3"
    }

    constraint {
      attribute = "kernel.os"
      operator = "="
      value = "linux"
    }

    affinity {
      attribute = "${node.datacenter}"
      operator = "="
      value = "dc2"
      weight = 100
    }

    spread {
      attribute = "${node.datacenter}"
      weight = 50

      target "dc1" {
        percent = 50
      }

      target "dc2" {
        percent = 25
      }

      target "dc3" {
        percent = 25
      }
    }

    volume "foo" {
      type = "host"
      source = "/path"
    }

    restart {
      attempts = 5
      interval = "10m"
      delay = "15s"
      mode = "delay"
    }

    reschedule {
      attempts = 5
      interval = "12h"
    }

    ephemeral_disk {
      size = 150
      sticky = true
    }

    update {
      max_parallel = 3
      health_check = "checks"
      min_healthy_time = "1s"
      healthy_deadline = "1m"
      progress_deadline = "1m"
      canary = 2
      auto_revert = false
      auto_promote = false
    }

    migrate {
      max_parallel = 2
      health_check = "task_states"
      min_healthy_time = "11s"
      healthy_deadline = "11m"
    }

    task "binstore" {
      driver = "docker"
      user = "bob"
      leader = true
      kind = "connect-proxy:test"
      kill_timeout = "22s"
      shutdown_delay = "11s"

      config {
        image = "hashicorp/binstore"

        labels {
          FOO = "bar"
        }
      }

      env {
        HELLO = "world"
        LOREM = "ipsum"
      }

      affinity {
        attribute = "${meta.foo}"
        operator = "set_contains"
        value = "a,b,c"
        weight = 25
      }

      resources {
        cpu = 500
        memory = 128

        network {
          mbits = 100

          port "one" {
            static = 1
          }

          port "two" {
            static = 2
          }

          port "three" {
            static = 3
          }

          port "http" {}

          port "https" {}

          port "admin" {}
        }

        device "nvidia/gpu" {
          count = 10

          constraint {
            attribute = "${device.attr.memory}"
            operator = ">"
            value = "2GB"
          }

          affinity {
            attribute = "${device.model}"
            operator = "="
            value = "1080ti"
            weight = 50
          }
        }

        device "intel/gpu" {}
      }

      restart {
        attempts = 10
      }

      logs {
        max_files = 14
        max_file_size = 101
      }

      service {
        port = "http"
        tags = ["foo", "bar"]
        canary_tags = ["canary", "bam"]

        meta {
          abc = "123"
        }

        canary_meta {
          canary = "boom"
        }

        check {
          name = "check-name"
          type = "tcp"
          port = "admin"
          interval = "10s"
          timeout = "2s"
          grpc_service = "foo.Bar"
          grpc_use_tls = true

          check_restart {
            limit = 3
            grace = "10s"
            ignore_warnings = true
          }
        }
      }

      artifact {
        source = "http://foo.com/artifact"

        options {
          checksum = "md5:b8a4f3f72ecab0510a6a31e997461c5f"
        }
      }

      artifact {
        source = "http://bar.com/artifact"
        destination = "test/foo/"
        mode = "file"

        options {
          checksum = "md5:ff1cc0d3432dad54d607c1505fb7245c"
        }
      }

      template {
        source = "foo"
        destination = "foo"
        change_mode = "foo"
        change_signal = "foo"
        splay = "10s"
        perms = "0644"
        env = true
        vault_grace = "33s"
        error_on_missing_key = false
      }

      template {
        source = "bar"
        destination = "bar"
        change_mode = "restart"
        splay = "5s"
        perms = "777"
        left_delimiter = "--"
        right_delimiter = "__"
        error_on_missing_key = false
      }

      volume_mount {
        volume = "foo"
        destination = "/mnt/foo"
      }

      vault {
        policies = ["foo", "bar"]
        namespace = "ns1"
        env = true
        disable_file = false
        change_mode = "restart"
      }
    }

    task "storagelocker" {
      driver = "docker"

      lifecycle {
        hook = "prestart"
        sidecar = true
      }

      config {
        image = "hashicorp/storagelocker"
      }

      constraint {
        attribute = "kernel.arch"
        operator = "="
        value = "amd64"
      }

      resources {
        cpu = 500
        memory = 128
      }

      vault {
        policies = ["foo", "bar"]
        env = false
        disable_file = false
        change_mode = "signal"
        change_signal = "SIGUSR1"
      }
    }
  }
}
