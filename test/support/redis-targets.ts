import { Cluster, Redis } from "ioredis";
import { RedisStore, type RedisStoreOptions } from "../../src/store/redis/redis-store.js";
import { testRetention } from "./records.js";
import { startRedisCluster, type TestRedisCluster } from "./redis-cluster.js";
import { startRedis, type TestRedis } from "./redis-server.js";

// The deployments a Redis store suite runs on: one throwaway redis-server and
// a throwaway 3-master Redis Cluster, each started once for its describe block
// and emptied whenever a test opens a store.
export interface RedisTarget {
  name: string;
  // A store on an empty deployment.
  open(options?: Partial<RedisStoreOptions>): Promise<RedisStore>;
  // A client for raw commands, routed by key on the cluster.
  admin(): Redis | Cluster;
}

export function eachRedisTarget(suite: (target: RedisTarget) => void): void {
  describe("with a throwaway redis-server", () => {
    let server: TestRedis | undefined;
    let admin: Redis | undefined;
    before(async () => {
      server = await startRedis();
      admin = new Redis(server.url, { maxRetriesPerRequest: 0 });
    });
    after(async () => {
      await admin?.quit();
      await server?.stop();
    });
    suite({
      name: "redis",
      open: async (options = {}) => {
        await admin!.flushall();
        return RedisStore.connect(server!.url, { commandTimeoutMs: 2000, ...testRetention, ...options });
      },
      admin: () => admin!,
    });
  });

  describe("with a throwaway 3-master Redis Cluster", () => {
    let cluster: TestRedisCluster | undefined;
    let admin: Cluster | undefined;
    before(async function () {
      this.timeout(30_000);
      cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
      admin = new Cluster(cluster.nodes, { lazyConnect: true });
      await admin.connect();
    });
    after(async () => {
      await admin?.quit();
      await cluster?.stop();
    });
    suite({
      name: "redis cluster",
      open: async (options = {}) => {
        await Promise.all(admin!.nodes("master").map((master) => master.flushall()));
        return RedisStore.connectCluster(cluster!.nodes, { commandTimeoutMs: 2000, ...testRetention, ...options });
      },
      admin: () => admin!,
    });
  });
}
