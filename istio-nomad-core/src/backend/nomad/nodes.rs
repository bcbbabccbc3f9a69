//! Nomad client nodes as `GET /v1/nodes` and `GET /v1/node/:id` return them (Nomad v1.6.9
//! `api/nodes.go` `NodeListStub`, `Node`; `api/resources.go` `NetworkResource`), and the nodes
//! of the in-memory Nomad.

use std::collections::BTreeMap;
#[cfg(feature = "test-util")]
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

#[cfg(feature = "test-util")]
use crate::backend::blocking::lock;
use crate::backend::null_default;

/// One node of `GET /v1/nodes` (`NodeListStub`; `Address` is the host of its `HTTPAddr`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeListStub {
    /// Node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    #[serde(rename = "Name")]
    pub name: String,
    /// The host of the node's HTTP address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Datacenter.
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    /// `ready`, `down`, `initializing` or `disconnected`.
    #[serde(rename = "Status")]
    pub status: String,
}

/// A network a node offers (`NetworkResource` in `NodeResources.Networks`): `host` networks
/// with their device and address, `bridge` when the bridge module is there
/// (`client/fingerprint/bridge_linux.go`), `cni/<name>` per CNI configuration found
/// (`client/fingerprint/cni.go`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeNetwork {
    /// `host`, `bridge` or `cni/<name>`.
    #[serde(rename = "Mode")]
    pub mode: String,
    /// Host device.
    #[serde(rename = "Device")]
    pub device: String,
    /// CIDR.
    #[serde(rename = "CIDR")]
    pub cidr: String,
    /// IP.
    #[serde(rename = "IP")]
    pub ip: String,
}

/// A node's resources (only the networks are read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeResources {
    /// Networks.
    #[serde(rename = "Networks", deserialize_with = "null_default")]
    pub networks: Vec<NodeNetwork>,
}

/// A node of `GET /v1/node/:id`: its attributes (`unique.network.ip-address`,
/// `plugins.cni.version.<plugin>`, ...) and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeInfo {
    /// Node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Datacenter.
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    /// `host:port` of the node's HTTP API.
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    /// Status.
    #[serde(rename = "Status")]
    pub status: String,
    /// Fingerprinted attributes.
    #[serde(rename = "Attributes", deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    /// Operator metadata.
    #[serde(rename = "Meta", deserialize_with = "null_default")]
    pub meta: BTreeMap<String, String>,
    /// Resources.
    #[serde(rename = "NodeResources", deserialize_with = "null_default")]
    pub node_resources: NodeResources,
}

impl NodeInfo {
    /// The node's address (`unique.network.ip-address`, the default host network's IP).
    pub fn address(&self) -> Option<&str> {
        self.attributes
            .get("unique.network.ip-address")
            .map(String::as_str)
            .filter(|a| !a.is_empty())
    }

    /// The stub `GET /v1/nodes` lists for this node (`nomad/structs/structs.go` `Node.Stub`).
    pub fn stub(&self) -> NodeListStub {
        NodeListStub {
            id: self.id.clone(),
            name: self.name.clone(),
            address: self
                .http_addr
                .rsplit_once(':')
                .map_or(self.http_addr.as_str(), |(h, _)| h)
                .to_owned(),
            datacenter: self.datacenter.clone(),
            status: self.status.clone(),
        }
    }

    /// The node of the in-memory Nomad: a Linux client at 127.0.0.1 with Docker, the bridge
    /// network and the CNI plugins Nomad's bridge network calls, as `nomad agent -dev` on a
    /// host with those plugins fingerprints itself.
    #[cfg(feature = "test-util")]
    pub fn memory_node() -> NodeInfo {
        let mut attributes: BTreeMap<String, String> = [
            ("kernel.name", "linux"),
            ("nomad.version", "1.6.9"),
            ("unique.network.ip-address", "127.0.0.1"),
            ("driver.docker", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for p in crate::nomad::registration::BRIDGE_CNI_PLUGINS {
            attributes.insert(format!("plugins.cni.version.{p}"), "v1.4.0".into());
        }
        NodeInfo {
            id: "00000000-0000-4000-8000-000000000001".into(),
            name: super::memory::MEMORY_NODE_NAME.into(),
            datacenter: "dc1".into(),
            http_addr: "127.0.0.1:4646".into(),
            status: "ready".into(),
            attributes,
            meta: BTreeMap::new(),
            node_resources: NodeResources {
                networks: vec![
                    NodeNetwork {
                        mode: "host".into(),
                        device: "lo".into(),
                        cidr: "127.0.0.1/32".into(),
                        ip: "127.0.0.1".into(),
                    },
                    NodeNetwork {
                        mode: "bridge".into(),
                        ..NodeNetwork::default()
                    },
                ],
            },
        }
    }
}

/// The nodes of an in-memory Nomad (shared by its clones).
#[cfg(feature = "test-util")]
#[derive(Debug, Clone)]
pub(crate) struct MemoryNodes(Arc<Mutex<Vec<NodeInfo>>>);

#[cfg(feature = "test-util")]
impl Default for MemoryNodes {
    fn default() -> Self {
        MemoryNodes(Arc::new(Mutex::new(vec![NodeInfo::memory_node()])))
    }
}

#[cfg(feature = "test-util")]
impl MemoryNodes {
    pub(crate) fn list(&self) -> Vec<NodeInfo> {
        lock(&self.0).clone()
    }

    pub(crate) fn set(&self, nodes: Vec<NodeInfo>) {
        *lock(&self.0) = nodes;
    }
}
