import { emptySharedRedis, type SharedRedis } from "../support/fixtures.js";
import { fuzz } from "./fuzz/run.js";

// Malformed requests, thrown at every transport of one server: REST and
// Connect over HTTP/1.1 and HTTP/2, gRPC-Web, gRPC on the main port and on the
// grpc-js port. Each reply must be a client error, none may hang, the server
// must keep answering, and the stored data must stay as it was.
//
// The inputs come from a seeded generator. A failure names its seed:
// FUZZ_SEED=<seed> npx mocha --grep fuzz replays the run, and FUZZ_SCALE=<k>
// sends k times as many requests. FUZZ_STRICT=1 also fails on the library
// deviations listed in knownDeviations.

fuzz("memory store", 2 / 3, () => ({}));

describe("with a redis-server", () => {
  let redis: SharedRedis | undefined;
  before(async () => {
    redis = await emptySharedRedis();
  });
  fuzz("redis store", 1 / 3, () => ({ redisUrl: redis!.url }));
});
