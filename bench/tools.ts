import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The load generators, run as separate processes: h2load for HTTP/2 (gRPC,
// Connect), wrk for HTTP/1.1. Each run reports throughput and p50/p99 latency.

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  failed: number;
}

const tools = [
  { command: "h2load", debian: "nghttp2-client" },
  { command: "wrk", debian: "wrk" },
];

function onPath(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// Installs the load generators from Debian's packages when they are missing
// and this runs as root with apt-get; otherwise says how.
export function ensureTools(): void {
  const missing = tools.filter((tool) => !onPath(tool.command));
  if (missing.length === 0) return;
  const packages = missing.map((tool) => tool.debian);
  if (process.getuid?.() === 0 && onPath("apt-get")) {
    console.log(`installing ${packages.join(", ")} (apt-get)`);
    execFileSync("apt-get", ["update", "-q"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-q", ...packages], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    return;
  }
  throw new Error(`missing ${missing.map((tool) => tool.command).join(", ")}: install with  sudo apt-get install ${packages.join(" ")}`);
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}:\n${output}`))));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface H2loadOptions {
  url: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
  seconds: number;
  warmupSeconds: number;
  clients: number;
  streams: number;
}

export async function h2load(options: H2loadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "rollcall-h2load-"));
  try {
    const log = join(dir, "requests.log");
    const args = [
      "-t",
      "1",
      "-c",
      String(options.clients),
      "-m",
      String(options.streams),
      "-D",
      String(options.seconds),
      "--warm-up-time",
      String(options.warmupSeconds),
      "--log-file",
      log,
    ];
    for (const [name, value] of Object.entries(options.headers)) args.push("-H", `${name}: ${value}`);
    if (options.body !== undefined) {
      const body = join(dir, "body");
      writeFileSync(body, options.body);
      args.push("-d", body);
    }
    const output = await run("h2load", [...args, options.url]);
    const rps = Number(/finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(output)?.[1]);
    const [, done, succeeded] = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded/.exec(output) ?? [];
    const durations = readFileSync(log, "utf8")
      .split("\n")
      .map((line) => line.split("\t"))
      .filter((columns) => columns[1] === "200")
      .map((columns) => Number(columns[2]) / 1000)
      .sort((a, b) => a - b);
    return {
      rps,
      p50Ms: percentile(durations, 50),
      p99Ms: percentile(durations, 99),
      requests: Number(done),
      failed: Number(done) - Number(succeeded),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface WrkOptions {
  url: string;
  method?: "GET" | "POST";
  headers: Record<string, string>;
  // A fixed body, or a Lua expression of `n` (the request's number) making one.
  body?: string;
  bodyOf?: string;
  seconds: number;
  connections: number;
}

export async function wrk(options: WrkOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "rollcall-wrk-"));
  try {
    const lua = [`wrk.method = "${options.method ?? "GET"}"`];
    for (const [name, value] of Object.entries(options.headers))
      lua.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
    if (options.body !== undefined) lua.push(`wrk.body = ${JSON.stringify(options.body)}`);
    if (options.bodyOf !== undefined)
      lua.push("local n = 0", "request = function()", "  n = n + 1", `  return wrk.format(nil, nil, nil, ${options.bodyOf})`, "end");
    const script = join(dir, "load.lua");
    writeFileSync(script, lua.join("\n"));
    const output = await run("wrk", [
      "-t",
      "1",
      "-c",
      String(options.connections),
      "-d",
      `${options.seconds}s`,
      "--latency",
      "-s",
      script,
      options.url,
    ]);
    const latency = (p: string) => {
      const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(output);
      if (match === null) return NaN;
      return Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as "us" | "ms" | "s"];
    };
    const requests = Number(/(\d+) requests in/.exec(output)?.[1]);
    const failed =
      Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0) + Number(/Socket errors: .*?timeout (\d+)/.exec(output)?.[1] ?? 0);
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]), p50Ms: latency("50"), p99Ms: latency("99"), requests, failed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
