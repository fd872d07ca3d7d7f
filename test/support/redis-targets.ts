import { Cluster, Redis } from "ioredis";
import { RedisStore, type RedisStoreOptions } from "../../src/store/redis/redis-store.js";
import { sharedCluster, sharedRedis } from "./fixtures.js";
import { testLimits } from "./records.js";

// The deployments a Redis store suite runs on: the run's shared redis-server
// and its shared 3-master Redis Cluster (see fixtures.ts), emptied whenever a
// test opens a store.
export interface RedisTarget {
  name: string;
  // A store on an empty deployment.
  open(options?: Partial<RedisStoreOptions>): Promise<RedisStore>;
  // A client for raw commands, routed by key on the cluster.
  admin(): Redis | Cluster;
}

export function eachRedisTarget(suite: (target: RedisTarget) => void): void {
  describe("with a throwaway redis-server", () => {
    let url: string | undefined;
    let admin: Redis | undefined;
    before(async () => {
      url = (await sharedRedis()).url;
      admin = new Redis(url, { maxRetriesPerRequest: 0 });
    });
    after(async () => {
      await admin?.quit();
    });
    suite({
      name: "redis",
      open: async (options = {}) => {
        await admin!.flushall();
        return RedisStore.connect(url!, { commandTimeoutMs: 2000, ...testLimits, ...options });
      },
      admin: () => admin!,
    });
  });

  describe("with a throwaway 3-master Redis Cluster", () => {
    let nodes: string[] | undefined;
    let admin: Cluster | undefined;
    before(async function () {
      this.timeout(30_000);
      nodes = (await sharedCluster()).nodes;
      admin = new Cluster(nodes, { lazyConnect: true });
      await admin.connect();
    });
    after(async () => {
      await admin?.quit();
    });
    suite({
      name: "redis cluster",
      open: async (options = {}) => {
        await Promise.all(admin!.nodes("master").map((master) => master.flushall()));
        return RedisStore.connectCluster(nodes!, { commandTimeoutMs: 2000, ...testLimits, ...options });
      },
      admin: () => admin!,
    });
  });
}
