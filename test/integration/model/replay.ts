import type { Outcome } from "./outcomes.js";
import { seed, steps } from "./settings.js";

// What a run reports: the seed that replays a failure, and how often each
// outcome occurred.

// A failure names the seed that replays it and the steps that led to it.
export async function replayable(part: string, trace: string[], run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const replay = `${part} failed; replay with MODEL_SEED=${seed} MODEL_STEPS=${steps}\nlast steps:\n  ${trace.join("\n  ")}\n`;
    if (error instanceof Error) error.message = `${replay}${error.message}`;
    throw error;
  }
}

export class Stats {
  private readonly counts = new Map<string, number>();

  count(operation: string, outcome: Outcome<unknown>): void {
    const key = `${operation}: ${outcome.ok ? "ok" : outcome.error.reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  print(title: string): void {
    if (!process.env.MODEL_STATS) return;
    const lines = [...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => `${key} ${n}`);
    console.log(`      ${title}\n        ${lines.join("\n        ")}`);
  }
}

// The model of the serial part: rooms and participants as plain records.
