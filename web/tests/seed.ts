// Realistic logs for the browser tests and the README's screenshot: CUDA
// OOMs from one traceback on several ranks, NCCL timeouts, config and model
// loading errors, nan losses, inference failures — with stack traces, system
// state, context, recent actions and sources, spread over the last hours.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ErrorType,
  NewLogSchema,
  RecentActionSchema,
  Severity,
  SourceSchema,
  SystemStateSchema,
  GpuStateSchema,
  type NewLog,
} from "../src/gen/diagnostics/v1/diagnostics_pb";
import type { Diagnostics } from "./harness";

const GiB = 1024n ** 3n;

const OOM_TRACE = `Traceback (most recent call last):
  File "/home/alice/llama-ft/train.py", line 212, in <module>
    main()
  File "/home/alice/llama-ft/train.py", line 188, in main
    loss = train_step(model, batch)
  File "/home/alice/llama-ft/train.py", line 97, in train_step
    loss.backward()
  File "/opt/conda/lib/python3.11/site-packages/torch/_tensor.py", line 522, in backward
    torch.autograd.backward(
  File "/opt/conda/lib/python3.11/site-packages/torch/autograd/__init__.py", line 266, in backward
    Variable._execution_engine.run_backward(
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 1.02 GiB is free.`;

const NCCL_TRACE = `Traceback (most recent call last):
  File "/home/alice/llama-ft/train.py", line 201, in main
    dist.all_reduce(grad_norm)
  File "/opt/conda/lib/python3.11/site-packages/torch/distributed/c10d_logger.py", line 75, in wrapper
    return func(*args, **kwargs)
torch.distributed.DistBackendError: NCCL watchdog thread terminated with exception: [Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=4411, OpType=ALLREDUCE) ran for 600000 milliseconds before timing out.`;

const LOAD_TRACE = `Traceback (most recent call last):
  File "/home/alice/llama-ft/serve.py", line 41, in load
    model = AutoModelForCausalLM.from_pretrained(path)
  File "/opt/conda/lib/python3.11/site-packages/transformers/modeling_utils.py", line 3372, in from_pretrained
    raise EnvironmentError(
OSError: Error no file named model.safetensors found in directory /models/llama-7b-ft.`;

const NAN_TRACE = `Traceback (most recent call last):
  File "/home/alice/llama-ft/train.py", line 120, in train_step
    check_finite(loss, step)
  File "/home/alice/llama-ft/guards.py", line 14, in check_finite
    raise FloatingPointError(f"loss is nan at step {step}")
FloatingPointError: loss is nan at step 5120`;

function system(rank: number, usedGiB: number) {
  return create(SystemStateSchema, {
    cpuPercent: 35 + rank * 7,
    memoryUsedBytes: 180n * GiB + BigInt(rank) * GiB,
    memoryTotalBytes: 512n * GiB,
    diskUsedBytes: 1200n * GiB,
    diskTotalBytes: 2000n * GiB,
    gpus: [
      create(GpuStateSchema, {
        name: "NVIDIA H100 80GB HBM3",
        memoryUsedBytes: BigInt(Math.round(usedGiB * 1024)) * 1024n * 1024n,
        memoryTotalBytes: 80n * GiB,
        utilizationPercent: 97,
      }),
    ],
  });
}

function actions(at: Date) {
  const t = (s: number) => timestampFromDate(new Date(at.getTime() - s * 1000));
  return [
    create(RecentActionSchema, { timestamp: t(900), action: "start_training", details: { batch_size: 64, lr: 0.0002 } }),
    create(RecentActionSchema, { timestamp: t(300), action: "resume_from_checkpoint", details: { step: 5000 } }),
    create(RecentActionSchema, { timestamp: t(20), action: "increase_batch_size", details: { from: 64, to: 128 } }),
  ];
}

/** About thirty varied logs over the last six hours (newest: a CUDA OOM). */
export function variedLogs(now = new Date()): NewLog[] {
  const logs: NewLog[] = [];
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000);
  const add = (minutesAgo: number, fields: Partial<NewLog>) => {
    const when = at(minutesAgo);
    logs.push(
      create(NewLogSchema, {
        occurredAt: timestampFromDate(when),
        ...fields,
      } as never),
    );
  };
  for (let i = 0; i < 8; i++) {
    add(i * 37 + 1, {
      severity: Severity.HIGH,
      errorType: ErrorType.OOM,
      message: "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 1.02 GiB is free.",
      stackTrace: OOM_TRACE,
      systemState: system(i, 78.1),
      context: { model: { name: "llama-7b", params: "6.7B" }, batch_size: 128, seq_len: 4096, rank: i },
      recentActions: actions(at(i * 37 + 1)),
      source: create(SourceSchema, { host: `gpu-node-0${(i % 4) + 1}`, runId: "llama-ft-42", component: "trainer", labels: { rank: String(i) } }),
    });
  }
  for (let i = 0; i < 4; i++) {
    add(i * 61 + 12, {
      severity: Severity.CRITICAL,
      errorType: ErrorType.NETWORK,
      message: "NCCL watchdog thread terminated: collective operation timeout after 600000 ms (ALLREDUCE, SeqNum=4411)",
      stackTrace: NCCL_TRACE,
      systemState: system(3, 61),
      context: { nccl: { version: "2.21.5", timeout_ms: 600000 }, world_size: 64 },
      source: create(SourceSchema, { host: "gpu-node-03", runId: "llama-ft-42", component: "trainer", labels: { rank: String(3 + i * 16) } }),
    });
  }
  for (let i = 0; i < 5; i++) {
    add(i * 45 + 30, {
      severity: Severity.MEDIUM,
      errorType: ErrorType.CONFIGURATION,
      message: `gradient_accumulation_steps=${i + 3} does not divide global_batch_size=1000; using ${Math.floor(1000 / (i + 3))}`,
      context: { config: { file: "configs/llama-ft.yaml", global_batch_size: 1000 } },
      source: create(SourceSchema, { host: "gpu-node-01", runId: "llama-ft-43", component: "launcher" }),
    });
  }
  for (let i = 0; i < 4; i++) {
    add(i * 70 + 50, {
      severity: Severity.HIGH,
      errorType: ErrorType.MODEL_LOADING,
      message: "Error no file named model.safetensors found in directory /models/llama-7b-ft.",
      stackTrace: LOAD_TRACE,
      source: create(SourceSchema, { host: "infer-01", runId: "", component: "server" }),
    });
  }
  for (let i = 0; i < 4; i++) {
    add(i * 55 + 8, {
      severity: Severity.CRITICAL,
      errorType: ErrorType.TRAINING,
      message: `loss is nan at step ${5120 + i * 10}`,
      stackTrace: NAN_TRACE,
      context: { optimizer: "adamw", lr: 0.0002, grad_norm: "inf" },
      source: create(SourceSchema, { host: "gpu-node-02", runId: "llama-ft-42", component: "trainer" }),
    });
  }
  for (let i = 0; i < 5; i++) {
    add(i * 33 + 20, {
      severity: Severity.LOW,
      errorType: ErrorType.INFERENCE,
      message: `Input of ${4096 + i * 512} tokens was truncated to the model's 4096-token window`,
      context: { request_id: `req-${1000 + i}`, tokenizer: "llama" },
      source: create(SourceSchema, { host: "infer-01", component: "server" }),
    });
  }
  // The newest: a critical OOM on rank 0.
  add(0.2, {
    severity: Severity.CRITICAL,
    errorType: ErrorType.OOM,
    message: "CUDA out of memory. Tried to allocate 4.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 512.00 MiB is free.",
    stackTrace: OOM_TRACE.replace("2.00 GiB", "4.00 GiB"),
    systemState: system(0, 79.0),
    context: { model: { name: "llama-13b", params: "13B" }, batch_size: 128 },
    recentActions: actions(at(0.2)),
    source: create(SourceSchema, { host: "gpu-node-01", runId: "llama-ft-44", component: "trainer", labels: { rank: "0" } }),
  });
  return logs;
}

/** Reports `variedLogs()` and answers how many were stored. */
export async function seedVaried(client: Diagnostics): Promise<number> {
  const logs = variedLogs();
  for (const log of logs) await client.reportError({ log });
  return logs.length;
}
