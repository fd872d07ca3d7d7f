import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { freePort } from "./redis-server.js";
import { waitFor } from "./wait.js";

// rollcall in a process of its own (src/main.ts), for tests that kill it
// (SIGKILL), measure it, or run several instances. GRPC_PORT is off unless
// `env` says otherwise; the rest of the configuration is `env`.
export interface RollcallProcess {
  url: string;
  child: ChildProcess;
  // Everything it wrote to stdout so far.
  output(): string;
}

export async function startRollcallProcess(env: Record<string, string>): Promise<RollcallProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, PORT: String(port), GRPC_PORT: "off", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.includes("serving") || child.exitCode !== null, { timeoutMs: 20_000, what: "rollcall to start serving" });
  if (child.exitCode !== null) throw new Error(`rollcall exited: ${output}`);
  return { url: `http://127.0.0.1:${port}`, child, output: () => output };
}

// Ends a process with `signal` (SIGKILL for a crash) and waits for it, if it still runs.
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await exited;
}
