import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { reapOnExit } from "./reaper.js";

// A throwaway redis-server on a free loopback port, never the shared 6379
// instance. It keeps nothing on disk unless the test asks for it.
export interface TestRedis {
  port: number;
  url: string;
  // Its working directory, where an append-only file would be.
  dir: string;
  // Sends a signal to the server, e.g. SIGSTOP to make it hang, SIGCONT to resume.
  signal(signal: NodeJS.Signals): void;
  // Ends the server with this signal (SIGKILL for a crash) and waits for it,
  // keeping its directory.
  halt(signal: NodeJS.Signals): Promise<void>;
  // Starts it again on the same port and directory.
  restart(): Promise<void>;
  // Stops the server (SIGTERM, then SIGKILL) and removes its directory.
  stop(): Promise<void>;
}

function spawnServer(args: string[]): ChildProcess {
  const child = spawn("redis-server", args, { stdio: "ignore" });
  reapOnExit(child);
  return child;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  // A server started with --requirepass answers only with that password.
  const password = extraArgs.includes("--requirepass") ? extraArgs[extraArgs.indexOf("--requirepass") + 1] : undefined;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "rollcall-redis-"));
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--loglevel",
      "warning",
      ...extraArgs,
    ];
    let child = spawnServer(args);
    const halt = async (signal: NodeJS.Signals) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGCONT");
      child.kill(signal);
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    };
    const stop = async () => {
      await halt("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    };
    const restart = async () => {
      child = spawnServer(args);
      if (!(await answers(port, child, password))) throw new Error(`redis-server did not restart on port ${port}`);
    };
    if (await answers(port, child, password)) {
      return { port, url: `redis://127.0.0.1:${port}`, dir, signal: (name) => child.kill(name), halt, restart, stop };
    }
    await stop();
    if (attempt >= 3) throw new Error(`redis-server did not start on port ${port}`);
  }
}

async function answers(port: number, child: ChildProcess, password: string | undefined): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && child.exitCode === null) {
    const client = new Redis({ port, host: "127.0.0.1", password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.ping();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
  return false;
}
