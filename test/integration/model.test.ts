import { MemoryStore } from "../../src/store/memory/memory-store.js";
import { RedisStore } from "../../src/store/redis/redis-store.js";
import type { Store } from "../../src/store/store.js";
import { emptySharedRedis, type SharedRedis } from "../support/fixtures.js";
import { Random } from "../support/random.js";
import { testLimits } from "../support/records.js";
import { testClock } from "../support/timed-store.js";
import { ConcurrentRun } from "./model/concurrent-run.js";
import { replayable } from "./model/replay.js";
import { SerialRun } from "./model/serial-run.js";
import { batches, seed, steps, t0 } from "./model/settings.js";

// A randomized model-based test of the operations layer. A seeded generator
// drives thousands of operations over a few accounts, a handful of room names
// and a small pool of identities, so identities are reused and displaced,
// rooms fill up and complete and their names come back as new rooms. It runs
// RoomOperations and ParticipantOperations over the memory store and over a
// redis-server the run shares (emptied first), with a clock the test controls.
//
// Serial steps: a plain model predicts every outcome exactly, errors included,
// and after every step the store itself is read back and checked against the
// invariants and against the model.
//
// Concurrent batches: operations run together under Promise.all, so their
// order is unknown; after each batch the store must still hold the
// invariants, and outcomes must fit some serial order where that is cheap to
// tell.
//
// A failure names its seed. MODEL_SEED=<seed> replays the same operations
// (sids are random, so only records with equal times may list in another
// order). Concurrent batches replay over the memory store, whose interleaving
// depends only on the code; over Redis they interleave differently on every
// run. MODEL_STEPS scales the run: that many serial steps, and one batch per
// 20 of them. MODEL_STATS=1 prints how often each outcome occurred.

describe(`model-based operations (seed ${seed}, ${steps} steps)`, function () {
  this.timeout(300_000);
  let redis: SharedRedis | undefined;
  const opened: Store[] = [];

  before(async () => {
    redis = await emptySharedRedis();
  });
  after(async () => {
    for (const store of opened.splice(0)) await store.close();
  });

  // A store reading its wall clock from `now`.
  const backends: [string, (now: () => number) => Promise<Store>][] = [
    ["memory store", (now) => Promise.resolve(new MemoryStore({ ...testLimits, now }))],
    ["redis store", async (now) => RedisStore.connect(redis!.url, { commandTimeoutMs: 5000, ...testLimits, now })],
  ];

  for (const [name, open] of backends) {
    it(`serial steps match the model exactly (${name})`, async () => {
      const clock = testClock(t0);
      const store = await open(clock.read);
      opened.push(store);
      const run = new SerialRun(store, new Random(seed), clock);
      await replayable(`serial model (${name})`, run.trace, async () => {
        for (let i = 0; i < steps; i++) await run.step(i);
        await run.sweep();
      });
      run.stats.print(`${name}, serial`);
    });

    it(`concurrent batches keep the invariants (${name})`, async () => {
      let now = () => t0;
      const store = await open(() => now());
      opened.push(store);
      const run = new ConcurrentRun(store, new Random(seed ^ 0x5bd1e995));
      now = run.now;
      await replayable(`concurrent batches (${name})`, run.trace, async () => {
        for (let i = 0; i < batches; i++) await run.batch(i);
      });
      run.stats.print(`${name}, concurrent`);
    });
  }
});
