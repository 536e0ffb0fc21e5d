// Run and member states as the page shows them (the CLI's words and
// colours): alive green, stuck yellow, lost red, finished blue, failed red —
// always a coloured badge with its word, never colour alone — and the words
// used in URLs.
import { RunPhase, RunState } from "../gen/diagnostics/v1/diagnostics_pb";

export const RUN_STATES: readonly RunState[] = [
  RunState.ALIVE,
  RunState.STUCK,
  RunState.LOST,
  RunState.FINISHED,
  RunState.FAILED,
];

const NAMES: Record<number, string> = {
  [RunState.ALIVE]: "alive",
  [RunState.STUCK]: "stuck",
  [RunState.LOST]: "lost",
  [RunState.FINISHED]: "finished",
  [RunState.FAILED]: "failed",
};

const HINTS: Record<number, string> = {
  [RunState.ALIVE]: "heartbeats arrive and the step advances",
  [RunState.STUCK]: "heartbeats arrive but the step has not advanced",
  [RunState.LOST]: "no heartbeat for three intervals",
  [RunState.FINISHED]: "ended with a FINISHED heartbeat",
  [RunState.FAILED]: "ended with a FAILED heartbeat",
};

/** "alive", "stuck", …; "new" when not derived yet. */
export function runStateName(state: RunState): string {
  return NAMES[state] ?? "new";
}

export function parseRunState(word: string): RunState | undefined {
  return RUN_STATES.find((s) => runStateName(s) === word.toLowerCase());
}

/** "training", "saving", …; "" when not said. */
export function runPhaseName(phase: RunPhase): string {
  return phase === RunPhase.UNSPECIFIED ? "" : (RunPhase[phase] ?? "").toLowerCase();
}

export function RunStateBadge({ state }: { state: RunState }) {
  const name = runStateName(state);
  return (
    <span class={`state-badge run-${name}`} title={HINTS[state]}>
      <span class="state-dot" aria-hidden="true" />
      {name}
    </span>
  );
}
