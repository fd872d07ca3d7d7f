// Waits until `condition` holds (returns true, or resolves to true), asking
// every `intervalMs`; fails after `timeoutMs` with a message naming what it
// waited for. Tests wait on a condition with this instead of sleeping for a
// fixed time and hoping it was long enough.
export interface WaitOptions {
  // What is awaited, for the failure message: "the load to make 50 joins".
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const { what, timeoutMs = 5000, intervalMs = 15 } = options;
  const started = Date.now();
  for (;;) {
    if (await condition()) return;
    if (Date.now() - started >= timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// Whether a promise has settled yet, without waiting for it.
export function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}
