//! What to do about each error type: the causes, solutions and prevention
//! from the feature description, included in diagnostic reports.

use serde::Serialize;

use super::ErrorType;

/// Advice for one error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Guidance {
    /// Human name of the error type.
    pub title: &'static str,
    /// What usually causes it.
    pub causes: &'static str,
    /// What fixes it.
    pub solutions: &'static str,
    /// How to keep it from happening.
    pub prevention: &'static str,
}

impl ErrorType {
    /// The advice for this error type.
    pub fn guidance(self) -> Guidance {
        match self {
            ErrorType::Oom => Guidance {
                title: "Out of Memory (OOM) errors",
                causes: "Model too large, batch size too high, insufficient RAM/VRAM",
                solutions: "Reduce batch size, enable gradient checkpointing, use quantization",
                prevention: "Monitor memory usage, use memory profiling",
            },
            ErrorType::Network => Guidance {
                title: "Network errors",
                causes: "Internet connectivity, firewall, API rate limits",
                solutions: "Check network connection, verify API credentials, retry with backoff",
                prevention: "Implement retry logic, use offline mode when possible",
            },
            ErrorType::Configuration => Guidance {
                title: "Configuration errors",
                causes: "Invalid parameters, missing required fields, incompatible settings",
                solutions: "Validate configuration, check documentation, use presets",
                prevention: "Use configuration validation, provide helpful error messages",
            },
            ErrorType::ModelLoading => Guidance {
                title: "Model loading errors",
                causes: "Invalid model path, corrupted files, incompatible format",
                solutions: "Verify model path, re-download model, check format compatibility",
                prevention: "Validate model files, use checksums, provide clear error messages",
            },
            ErrorType::Training => Guidance {
                title: "Training errors",
                causes: "Invalid hyperparameters, data issues, hardware failures",
                solutions: "Adjust hyperparameters, validate data, check hardware",
                prevention: "Validate inputs, monitor training, implement checkpointing",
            },
            ErrorType::Inference => Guidance {
                title: "Inference errors",
                causes: "Invalid input, model issues, resource constraints",
                solutions: "Validate input, check model, ensure sufficient resources",
                prevention: "Input validation, error handling, resource monitoring",
            },
            ErrorType::Other => Guidance {
                title: "Other errors",
                causes: "Errors outside the categories above",
                solutions: "Read the message and stack trace; search the logs for similar errors",
                prevention: "Classify recurring errors into a specific type when reporting them",
            },
        }
    }
}
