import { spawn } from "node:child_process";
import { once } from "node:events";
import { reapOnExit } from "./reaper.js";

// src/main.ts run once with these arguments and environment, for a start
// that is expected to end by itself (a refusal, --help); it is killed if it
// has not ended within timeoutMs.
export interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runRollcallOnce(args: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<Ended> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    env: { ...process.env, GRPC_PORT: "off", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  reapOnExit(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  // "close" comes after the output is read to its end, unlike "exit".
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(killer);
  return { code, stdout, stderr };
}
