import { startRedis, type TestRedis } from "./redis-server.js";

// The stores an end-to-end suite runs against: the embedded memory store and
// a throwaway redis-server. `redisUrl` is set for the Redis backend once its
// `before` hook ran.
export interface Backend {
  name: string;
  redisUrl: string | undefined;
}

export function eachBackend(suite: (backend: Backend) => void): void {
  suite({ name: "memory store", redisUrl: undefined });
  const redis: Backend & { server?: TestRedis } = { name: "redis store", redisUrl: undefined };
  describe("with a redis-server", () => {
    before(async () => {
      redis.server = await startRedis();
      redis.redisUrl = redis.server.url;
    });
    after(async () => redis.server?.stop());
    suite(redis);
  });
}
