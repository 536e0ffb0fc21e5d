//! Build script: compiles the gRPC contract with protox (no system `protoc`
//! needed), emits the descriptor set served by gRPC reflection, and embeds the
//! SQL migrations found in `migrations/`, in file-name order.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTO_ROOT: &str = "proto";
const PROTO_FILE: &str = "diagnostics/v1/diagnostics.proto";
const MIGRATIONS_DIR: &str = "migrations";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    compile_proto(&out_dir)?;
    embed_migrations(&out_dir)?;
    Ok(())
}

/// Compiles the proto with protox, writes `diagnostics_descriptor.bin` for
/// reflection and generates the tonic server and client.
fn compile_proto(out_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let descriptors = protox::compile([PROTO_FILE], [PROTO_ROOT])?;
    fs::write(
        out_dir.join("diagnostics_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    // The messages and the client.
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .bytes(".")
        // prost's codec, except that undecodable requests are INVALID_ARGUMENT.
        .codec_path("crate::api::codec::DiagnosticsCodec")
        .compile_fds(descriptors.clone())?;
    // The server, over the same messages, except that the live tail answers
    // with `TailMessage`: the same wire format, but a log encoded once can be
    // sent as is to every subscriber.
    let server_dir = out_dir.join("server");
    fs::create_dir_all(&server_dir)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(false)
        .generate_default_stubs(true)
        .out_dir(&server_dir)
        .extern_path(".diagnostics.v1", "crate::api::pb")
        .extern_path(
            ".diagnostics.v1.SubscribeLogsResponse",
            "crate::api::tail_message::TailMessage",
        )
        .codec_path("crate::api::codec::DiagnosticsCodec")
        .compile_fds(descriptors)?;
    Ok(())
}

/// Writes `migrations.rs`: a slice of `(version, name, sql)` for every
/// `NNNN_name.sql` file, so a new migration is picked up without code changes.
fn embed_migrations(out_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={MIGRATIONS_DIR}");
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let mut files: Vec<PathBuf> = fs::read_dir(manifest_dir.join(MIGRATIONS_DIR))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    let mut code = String::from("&[\n");
    for path in &files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let (version, name) = stem
            .split_once('_')
            .ok_or_else(|| format!("migration {stem}: expected NNNN_name.sql"))?;
        let version: i32 = version
            .parse()
            .map_err(|_| format!("migration {stem}: version must be a number"))?;
        code.push_str(&format!(
            "    ({version}, {name:?}, include_str!({path:?})),\n",
            path = path.display().to_string()
        ));
    }
    code.push_str("]\n");
    fs::write(out_dir.join("migrations.rs"), code)?;
    Ok(())
}
