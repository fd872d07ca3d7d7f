import type { ChildProcess } from "node:child_process";

// Child processes (the tests' redis-servers) killed if the test process ends
// without stopping them: on exit, after a crash, or on a signal such as the
// SIGINT and SIGTERM mocha sends its worker when interrupted. A signal is
// raised again once they are killed, so the process still ends as it would.
const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
}

const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
function onSignal(signal: NodeJS.Signals): void {
  killAll();
  for (const name of signals) process.removeListener(name, onSignal);
  process.kill(process.pid, signal);
}

let installed = false;

export function reapOnExit(child: ChildProcess): void {
  if (!installed) {
    installed = true;
    process.once("exit", killAll);
    for (const name of signals) process.on(name, onSignal);
  }
  children.add(child);
  child.once("exit", () => children.delete(child));
}
