//! A snapshot of the machine diagd runs on, for diagnostic reports: OS,
//! kernel, host, CPU, memory, the disks holding the given paths, and NVIDIA
//! GPUs through NVML. Every part is optional: a part that cannot be read is
//! reported as unknown, and no GPU (or no driver) is a plain entry saying so,
//! never an error.

use std::path::{Path, PathBuf};

use nvml_wrapper::{Nvml, enum_wrappers::device::TemperatureSensor};
use serde_json::{Value, json};
use sysinfo::{Disks, System};

/// Takes a snapshot; blocking (CPU usage needs two readings ~200 ms apart),
/// so call it from `spawn_blocking`. `paths` are the directories whose disks
/// matter (diagd's data, the database).
pub fn snapshot(paths: &[PathBuf]) -> Value {
    let mut cpu = json!({ "cores_logical": Value::Null });
    let mut memory = json!({ "total_bytes": Value::Null, "used_bytes": Value::Null });
    match System::new() {
        Ok(mut system) => {
            system.refresh_cpu_all();
            std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
            system.refresh_cpu_all();
            system.refresh_memory();
            let model = system
                .cpus()
                .first()
                .map(|c| c.brand().trim().to_string())
                .unwrap_or_default();
            cpu = json!({
                "model": model,
                "cores_logical": system.cpus().len(),
                "cores_physical": System::physical_core_count().ok(),
                "usage_percent": round2(f64::from(system.global_cpu_usage())),
            });
            memory = json!({
                "total_bytes": system.total_memory(),
                "used_bytes": system.used_memory(),
            });
        }
        Err(e) => tracing::debug!(error = %e, "reading CPU and memory"),
    }
    let os_name = System::name().ok();
    let os_version = System::long_os_version()
        .ok()
        .or_else(|| System::os_version().ok());
    json!({
        "os": os_name.clone().unwrap_or_else(|| std::env::consts::OS.to_string()),
        "os_version": os_version,
        "kernel": System::kernel_version().ok(),
        "host_name": System::host_name().ok(),
        "architecture": std::env::consts::ARCH,
        "cpu": cpu,
        "memory": memory,
        "disks": disks(paths),
        "gpu": gpus(),
    })
}

/// The disk (mount) holding each path: total and used bytes.
fn disks(paths: &[PathBuf]) -> Value {
    let disks = match Disks::new_with_refreshed_list() {
        Ok(disks) => disks,
        Err(e) => return json!({ "error": format!("cannot list disks: {e}") }),
    };
    let entries: Vec<Value> = paths
        .iter()
        .map(|path| {
            let resolved = nearest_existing(path);
            let disk = disks
                .iter()
                .filter(|d| resolved.starts_with(d.mount_point()))
                .max_by_key(|d| d.mount_point().as_os_str().len());
            match disk {
                Some(d) => json!({
                    "path": path.display().to_string(),
                    "mount_point": d.mount_point().display().to_string(),
                    "total_bytes": d.total_space(),
                    "used_bytes": d.total_space().saturating_sub(d.available_space()),
                    "available_bytes": d.available_space(),
                }),
                None => json!({ "path": path.display().to_string(), "mount_point": Value::Null }),
            }
        })
        .collect();
    Value::Array(entries)
}

/// The path itself if it exists, else its nearest existing ancestor.
fn nearest_existing(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .ancestors()
        .find_map(|p| p.canonicalize().ok())
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// NVIDIA GPUs through NVML, or a plain note when there are none.
fn gpus() -> Value {
    let nvml = match Nvml::init() {
        Ok(nvml) => nvml,
        Err(e) => {
            return json!({
                "available": false,
                "note": "no NVIDIA GPU detected",
                "detail": format!("NVML unavailable: {e}"),
                "devices": [],
            });
        }
    };
    let driver = nvml.sys_driver_version().ok();
    let count = nvml.device_count().unwrap_or(0);
    let devices: Vec<Value> = (0..count)
        .filter_map(|i| nvml.device_by_index(i).ok())
        .map(|device| {
            let memory = device.memory_info().ok();
            json!({
                "name": device.name().ok(),
                "memory_total_bytes": memory.as_ref().map(|m| m.total),
                "memory_used_bytes": memory.as_ref().map(|m| m.used),
                "utilization_percent": device.utilization_rates().ok().map(|u| u.gpu),
                "temperature_celsius": device.temperature(TemperatureSensor::Gpu).ok(),
            })
        })
        .collect();
    if devices.is_empty() {
        return json!({
            "available": false,
            "note": "no NVIDIA GPU detected",
            "driver_version": driver,
            "devices": [],
        });
    }
    json!({ "available": true, "driver_version": driver, "devices": devices })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_always_has_every_part_and_never_fails_without_a_gpu() {
        let snapshot = snapshot(&[std::env::temp_dir()]);
        for key in ["os", "kernel", "host_name", "cpu", "memory", "disks", "gpu"] {
            assert!(snapshot.get(key).is_some(), "missing {key}: {snapshot}");
        }
        let gpu = &snapshot["gpu"];
        if gpu["available"] == false {
            assert_eq!(gpu["note"], "no NVIDIA GPU detected");
        }
        assert!(snapshot["memory"]["total_bytes"].as_u64().unwrap_or(0) > 0);
        assert_eq!(
            snapshot["disks"][0]["path"],
            std::env::temp_dir().display().to_string()
        );
    }
}
