# Istio's Bookinfo sample as an istio-nomad mesh: four services, reviews in three versions.
#
#   cargo run -q -p istio-nomad-examples -- plan examples/bookinfo.mesh.hcl --out out/bookinfo
mesh "bookinfo" {
  region        = "global"
  datacenters   = ["dc1"]
  namespace     = "default"
  istio_version = "1.0.0"
  hub           = "docker.io/istio"

  control_plane {
    profile = "ha"
  }

  service "productpage" {
    image    = "docker.io/istio/examples-bookinfo-productpage-v1:1.8.0"
    version  = "v1"
    count    = 2
    protocol = "http"
    port "http" {
      port = 9080
    }
  }

  service "details" {
    image    = "docker.io/istio/examples-bookinfo-details-v1:1.8.0"
    version  = "v1"
    protocol = "http"
    port "http" {
      port = 9080
    }
  }

  service "reviews" {
    protocol = "http"
    port "http" {
      port = 9080
    }
    version "v1" {
      image = "docker.io/istio/examples-bookinfo-reviews-v1:1.8.0"
    }
    version "v2" {
      image = "docker.io/istio/examples-bookinfo-reviews-v2:1.8.0"
    }
    version "v3" {
      image = "docker.io/istio/examples-bookinfo-reviews-v3:1.8.0"
    }
  }

  service "ratings" {
    image    = "docker.io/istio/examples-bookinfo-ratings-v1:1.8.0"
    version  = "v1"
    protocol = "http"
    port "http" {
      port = 9080
    }
  }
}
