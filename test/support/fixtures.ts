import { Redis } from "ioredis";
import { startRedisCluster, type TestRedisCluster } from "./redis-cluster.js";
import { everyLogLine } from "./log-capture.js";
import { secretsIn } from "./log-secrets.js";
import { startRedis, type TestRedis } from "./redis-server.js";

// The Redis deployments a whole mocha run shares: one throwaway redis-server
// and one throwaway 3-master Redis Cluster, each started the first time a
// suite asks for it (so a run of unit tests starts neither) and stopped when
// the run ends. Registered with mocha as a root-hook plugin (.mocharc.json
// "require"). Suites that stop, hang or kill Redis start their own servers.

export interface SharedRedis {
  url: string;
}

export interface SharedCluster {
  // "127.0.0.1:port" of every node, all masters.
  nodes: string[];
  seeds: string;
}

let redis: Promise<TestRedis> | undefined;
let cluster: Promise<TestRedisCluster> | undefined;

export async function sharedRedis(): Promise<SharedRedis> {
  redis ??= startRedis();
  const { url } = await redis;
  return { url };
}

export async function sharedCluster(): Promise<SharedCluster> {
  cluster ??= startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  const { nodes, seeds } = await cluster;
  return { nodes, seeds };
}

// The shared redis-server, emptied.
export async function emptySharedRedis(): Promise<SharedRedis> {
  const shared = await sharedRedis();
  await flushed([shared.url]);
  return shared;
}

// The shared cluster, every master emptied.
export async function emptySharedCluster(): Promise<SharedCluster> {
  const shared = await sharedCluster();
  await flushed(shared.nodes.map((node) => `redis://${node}`));
  return shared;
}

async function flushed(urls: string[]): Promise<void> {
  await Promise.all(
    urls.map(async (url) => {
      const client = new Redis(url, { maxRetriesPerRequest: 0, lazyConnect: true });
      try {
        await client.connect();
        await client.flushall();
      } finally {
        client.disconnect();
      }
    }),
  );
}

async function stopShared(): Promise<void> {
  const stopping = [redis, cluster];
  redis = undefined;
  cluster = undefined;
  await Promise.all(stopping.map(async (started) => (await started?.catch(() => undefined))?.stop()));
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(20_000);
    await stopShared();
    // Every line the run's in-process servers logged: none may carry a test credential.
    const leaks = secretsIn(everyLogLine);
    if (leaks.length > 0) throw new Error(`log lines carry test credentials:\n${leaks.slice(0, 10).join("\n")}`);
  },
};
