// "What to try" for each error type: the seed's causes, solutions and
// prevention, as diagd's reports carry them (src/domain/guidance.rs; keep
// the two in step).
import { ErrorType } from "../gen/diagnostics/v1/diagnostics_pb";

export interface Guidance {
  causes: string;
  solutions: string;
  prevention: string;
}

const GUIDANCE: Record<number, Guidance> = {
  [ErrorType.OOM]: {
    causes: "Model too large, batch size too high, insufficient RAM/VRAM",
    solutions: "Reduce batch size, enable gradient checkpointing, use quantization",
    prevention: "Monitor memory usage, use memory profiling",
  },
  [ErrorType.NETWORK]: {
    causes: "Internet connectivity, firewall, API rate limits",
    solutions: "Check network connection, verify API credentials, retry with backoff",
    prevention: "Implement retry logic, use offline mode when possible",
  },
  [ErrorType.CONFIGURATION]: {
    causes: "Invalid parameters, missing required fields, incompatible settings",
    solutions: "Validate configuration, check documentation, use presets",
    prevention: "Use configuration validation, provide helpful error messages",
  },
  [ErrorType.MODEL_LOADING]: {
    causes: "Invalid model path, corrupted files, incompatible format",
    solutions: "Verify model path, re-download model, check format compatibility",
    prevention: "Validate model files, use checksums, provide clear error messages",
  },
  [ErrorType.TRAINING]: {
    causes: "Invalid hyperparameters, data issues, hardware failures",
    solutions: "Adjust hyperparameters, validate data, check hardware",
    prevention: "Validate inputs, monitor training, implement checkpointing",
  },
  [ErrorType.INFERENCE]: {
    causes: "Invalid input, model issues, resource constraints",
    solutions: "Validate input, check model, ensure sufficient resources",
    prevention: "Input validation, error handling, resource monitoring",
  },
  [ErrorType.OTHER]: {
    causes: "Errors outside the categories above",
    solutions: "Read the message and stack trace; search the logs for similar errors",
    prevention: "Classify recurring errors into a specific type when reporting them",
  },
};

export function guidanceFor(type: ErrorType): Guidance {
  return GUIDANCE[type] ?? GUIDANCE[ErrorType.OTHER];
}
