//! The generated protobuf types, gRPC server and client of
//! `diagnostics.v1`, and the descriptor set served by reflection.

#![allow(missing_docs, clippy::all)]

tonic::include_proto!("diagnostics.v1");

// The server, generated apart so that the live tail can answer with
// `TailMessage` (see build.rs).
include!(concat!(env!("OUT_DIR"), "/server/diagnostics.v1.rs"));

/// The encoded `FileDescriptorSet` of `diagnostics.proto`, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/diagnostics_descriptor.bin"));
