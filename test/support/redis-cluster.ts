import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { reapOnExit } from "./reaper.js";
import { freePort } from "./redis-server.js";

const run = promisify(execFile);

// A throwaway Redis Cluster of redis-server processes on free loopback ports
// (never the shared 6379 instance), formed by `redis-cli --cluster create`.
// Nothing is kept on disk beyond its temporary directory.
export interface TestRedisCluster {
  // "127.0.0.1:port" of every node (CLUSTER NODES tells which are masters).
  nodes: string[];
  // The nodes joined by commas, as REDIS_CLUSTER_NODES takes them.
  seeds: string;
  // Sends a signal to the node on this port, e.g. SIGSTOP to make it hang.
  signal(port: number, signal: NodeJS.Signals): void;
  // SIGKILLs the node on this port and waits until it is gone.
  kill(port: number): Promise<void>;
  // Kills every node and removes the directory.
  stop(): Promise<void>;
}

export interface ClusterShape {
  masters: number;
  replicasPerMaster: 0 | 1;
}

export async function startRedisCluster(shape: ClusterShape): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "rollcall-cluster-"));
  const children = new Map<number, ChildProcess>();
  const stop = async () => {
    await Promise.all([...children.values()].map(killed));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const total = shape.masters * (1 + shape.replicasPerMaster);
    const taken = new Set<number>();
    for (let i = 0; i < total; i++) {
      const { port, child } = await startNode(dir, taken);
      children.set(port, child);
    }
    const nodes = [...children.keys()].map((port) => `127.0.0.1:${port}`);
    await run("redis-cli", ["--cluster", "create", ...nodes, "--cluster-replicas", String(shape.replicasPerMaster), "--cluster-yes"], {
      timeout: 30_000,
    });
    await untilFormed([...children.keys()], shape);
    const node = (port: number) => {
      const child = children.get(port);
      if (child === undefined) throw new Error(`no node of this cluster listens on port ${port}`);
      return child;
    };
    return {
      nodes,
      seeds: nodes.join(","),
      signal: (port, signal) => node(port).kill(signal),
      kill: (port) => killed(node(port)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

// One cluster-enabled redis-server on a free port, with its cluster bus on a
// second free port (port + 10000 may not exist).
async function startNode(dir: string, taken: Set<number>): Promise<{ port: number; child: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const port = await unusedPort(taken);
    const busPort = await unusedPort(taken);
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--cluster-port",
        String(busPort),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, `nodes-${port}.conf`),
        "--cluster-node-timeout",
        "1000",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        // A replica's first sync would otherwise wait 5 s for more replicas.
        "--repl-diskless-sync-delay",
        "0",
        "--loglevel",
        "warning",
      ],
      { stdio: "ignore" },
    );
    reapOnExit(child);
    if (await answers(port, child)) return { port, child };
    await killed(child);
    if (attempt >= 3) throw new Error(`redis-server did not start in cluster mode on port ${port}`);
  }
}

async function unusedPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port === 6379 || port === 16379 || taken.has(port)) continue;
    taken.add(port);
    return port;
  }
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
}

function client(port: number): Redis {
  const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  return redis;
}

async function answers(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && child.exitCode === null) {
    const redis = client(port);
    try {
      await redis.connect();
      await redis.ping();
      return true;
    } catch {
      await sleep(50);
    } finally {
      redis.disconnect();
    }
  }
  return false;
}

// Waits until every node sees the whole cluster with every slot served, and
// every replica is attached to its master: only then can a replica be
// promoted when its master fails.
async function untilFormed(ports: number[], shape: ClusterShape): Promise<void> {
  const total = shape.masters * (1 + shape.replicasPerMaster);
  const clients = ports.map(client);
  try {
    await Promise.all(clients.map((redis) => redis.connect()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const views = await Promise.all(clients.map(nodeView));
      const formed = views.every(
        (view) =>
          view.state === "ok" &&
          view.knownNodes === total &&
          view.replicas === shape.masters * shape.replicasPerMaster &&
          (view.role === "master" || view.linkUp),
      );
      if (formed) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster did not form: ${JSON.stringify(views)}`);
      await sleep(100);
    }
  } finally {
    for (const redis of clients) redis.disconnect();
  }
}

interface NodeView {
  state: string | undefined;
  knownNodes: number;
  // Replicas this node knows of, attached to a master.
  replicas: number;
  role: string | undefined;
  linkUp: boolean;
}

async function nodeView(redis: Redis): Promise<NodeView> {
  const [info, nodes, replication] = await Promise.all([
    redis.call("CLUSTER", "INFO") as Promise<string>,
    redis.call("CLUSTER", "NODES") as Promise<string>,
    redis.info("replication"),
  ]);
  const field = (text: string, name: string) => new RegExp(`^${name}:(\\S*)`, "m").exec(text)?.[1];
  const replicas = nodes.split("\n").filter((line) => {
    const [, , flags, master] = line.split(" ");
    return flags?.split(",").includes("slave") && master !== "-";
  }).length;
  return {
    state: field(info, "cluster_state"),
    knownNodes: Number(field(info, "cluster_known_nodes")),
    replicas,
    role: field(replication, "role"),
    linkUp: field(replication, "master_link_status") === "up",
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
