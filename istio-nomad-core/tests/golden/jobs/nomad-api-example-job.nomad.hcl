job "example" {
  type = "service"
  datacenters = ["dc1"]
  node_pool = "prod"

  update {
    max_parallel = 1
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    progress_deadline = "10m"
    canary = 0
    auto_revert = false
  }

  migrate {
    max_parallel = 1
    health_check = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "5m"
  }

  group "cache" {
    count = 1

    restart {
      attempts = 2
      interval = "30m"
      delay = "15s"
      mode = "fail"
    }

    ephemeral_disk {
      size = 300
    }

    network {
      mode = ""
      device = ""
      cidr = ""
      ip = ""
      hostname = ""

      port "db" {
        static = 0
        to = 6379
        host_network = ""
      }
    }

    service {
      name = "redis-cache"
      port = "db"
      tags = ["global", "cache"]
      enable_tag_override = false
      address_mode = ""
      address = ""
      task = ""
      on_update = ""
      provider = "nomad"
    }

    task "redis" {
      driver = "docker"
      user = ""
      leader = false
      kind = ""
      kill_signal = ""
      shutdown_delay = "0s"

      config {
        auth_soft_fail = true
        image = "redis:7"
        ports = ["db"]
      }

      resources {
        cpu = 500
        memory = 256
      }

      identity {
        env = true
        file = true
      }
    }
  }
}
