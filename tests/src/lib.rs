//! Shared harness for the end-to-end tests: real etcd servers, network namespaces, shared data.

pub mod etcd;
pub mod etcd_members;
pub mod mock_cluster;
pub mod netns;
pub mod ports;
