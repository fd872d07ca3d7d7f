// Token buckets of failures, one per key (a client address, an account sid):
// each holds up to `perMinute` failures and forgives them at that rate. A key
// whose bucket is empty is refused until a token comes back. Buckets that
// refilled are forgotten, and at most `maxKeys` are kept (the oldest go
// first), so a client that varies its key costs bounded memory.
export class FailureBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillPerMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 10_000,
  ) {
    this.refillPerMs = perMinute / 60_000;
  }

  // How long (ms) the key must wait before it may fail again; 0 when it may now.
  waitOf(key: string, now: number): number {
    const bucket = this.current(key, now);
    if (bucket === undefined || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) / this.refillPerMs);
  }

  // Counts one failure of the key. True when this failure emptied the bucket
  // for the first time in this burst: the moment to say so, once.
  fail(key: string, now: number): boolean {
    let bucket = this.current(key, now);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.perMinute, at: now, reported: false };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    if (bucket.tokens >= 1 || bucket.reported) return false;
    bucket.reported = true;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }

  // The key's bucket refilled up to now; undefined (and forgotten) once full,
  // which also ends its burst.
  private current(key: string, now: number): Bucket | undefined {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return undefined;
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * this.refillPerMs);
    bucket.at = now;
    if (bucket.tokens < this.perMinute) return bucket;
    this.buckets.delete(key);
    return undefined;
  }
}

interface Bucket {
  tokens: number;
  at: number;
  // This burst was logged.
  reported: boolean;
}
