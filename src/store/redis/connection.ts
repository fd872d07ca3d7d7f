import { Cluster, Redis } from "ioredis";
import { StoreUnavailableError } from "../../domain/errors.js";
import { connectFailure } from "./connect-failure.js";
import { refusalOf, refusalText, writeProbe, type WriteRefusals } from "./write-refusals.js";
import type { Logger } from "../../observability/logger.js";
import { storeErrors } from "../../observability/metrics.js";
import { watchConnection } from "./connection-watch.js";

// Connections to Redis and the policy for their failures.

export interface ConnectionOptions {
  // Bound on each command; a command that does not answer in time fails as unavailable.
  commandTimeoutMs: number;
  // Where connection loss and recovery are told.
  log?: Logger;
  // Time every store operation for rollcall_store_operation_duration_seconds.
  timeOperations?: boolean;
}

export type Client = Redis | Cluster;

// Connects to a single Redis server and waits until it answers.
export async function connectServer(url: string, options: ConnectionOptions): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    // Fail fast while disconnected instead of queueing without bound.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
  });
  client.on("error", () => {
    // Connection errors surface as failed commands; ioredis keeps reconnecting.
  });
  watchConnection(client, redactUrl(url), options.log);
  const failures: Error[] = [];
  const noteFailure = (error: Error) => failures.push(error);
  client.on("error", noteFailure);
  const db = client.options.db ?? 0;
  try {
    await client.connect();
    // ioredis goes on with database 0 when the SELECT it sends on connecting fails.
    if (db !== 0) await client.select(db);
  } catch (error) {
    client.disconnect();
    const causes = failures.length > 0 ? failures : [error as Error];
    throw new StoreUnavailableError(`cannot connect to REDIS_URL ${redactUrl(url)}: ${connectFailure(causes, db)}`, { cause: causes[0] });
  } finally {
    client.off("error", noteFailure);
  }
  return client;
}

// Connects to a Redis Cluster through host:port seeds and waits until every
// master serving slots answers.
export async function connectCluster(nodes: readonly string[], options: ConnectionOptions): Promise<Cluster> {
  const client = new Cluster(nodes.map(hostAndPort), {
    lazyConnect: true,
    enableAutoPipelining: true,
    // Without the offline queue, calls fail at once while the cluster
    // connection is not ready (connecting, or reconnecting after every node
    // was lost) instead of queueing without bound. Redirections still work:
    // a MOVED command is resent at once, and one that meets a dead or not yet
    // ready node, CLUSTERDOWN or TRYAGAIN is resent 100 ms later with a
    // fresh slot map, 16 redirections and resends at most, so a call rides
    // out a replica's promotion instead of failing.
    enableOfflineQueue: false,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    clusterRetryStrategy: (attempt) => Math.min(50 * attempt, 1000),
    redisOptions: {
      // Bounds each send to a node, including the time a command waits in
      // the queue of a node connection still connecting (ioredis always
      // keeps that queue on).
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
    },
  });
  client.on("error", () => {
    // Failed nodes surface as failed commands; ioredis refreshes the slots and reconnects.
  });
  watchConnection(client, `the Redis Cluster of ${nodes.join(",")}`, options.log);
  try {
    await client.connect();
    await pingMasters(client);
    return client;
  } catch (error) {
    client.disconnect();
    throw new StoreUnavailableError(`cannot reach a ready Redis Cluster through ${nodes.join(",")}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

// A connection of its own for blocking reads, which hold it for up to
// blockMs: its command timeout allows for that.
export function blockingConnection(client: Client, blockMs: number, commandTimeoutMs: number): Client {
  const commandTimeout = blockMs + commandTimeoutMs;
  if (client instanceof Cluster) return client.duplicate([], { enableOfflineQueue: true, redisOptions: { commandTimeout } });
  return client.duplicate({ enableOfflineQueue: true, commandTimeout });
}

// The master of every slot, as the client maps them: a cluster that lost a
// master cannot serve the rooms hashed to it until a replica takes over.
function slotMasters(cluster: Cluster): Redis[] {
  if (cluster.status !== "ready") throw new Error(`the Redis Cluster connection is ${cluster.status}`);
  const masters = new Map(cluster.nodes("master").map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const owners = new Set<string>();
  for (let slot = 0; slot < 16384; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
    owners.add(owner);
  }
  const missing = [...owners].find((owner) => !masters.has(owner));
  if (missing !== undefined) throw new Error(`the master ${missing} is not connected`);
  return [...owners].map((owner) => masters.get(owner)!);
}

export async function pingMasters(cluster: Cluster): Promise<void> {
  await Promise.all(slotMasters(cluster).map((master) => master.ping()));
}

// Resolves when Redis (every master of a cluster) answers and would accept a
// write; rejects with Redis' refusal otherwise. Redis before 7 cannot compile
// the probe (it knows no script flags): it is only pinged.
export async function probeWrites(client: Client): Promise<void> {
  const probe = (node: Redis | Cluster) =>
    node.eval(writeProbe, 0).catch((error: Error) => {
      if (!error.message.startsWith("ERR Error compiling script")) throw error;
      return node.ping();
    });
  if (client instanceof Cluster) await Promise.all(slotMasters(client).map(probe));
  else await probe(client);
}

// Data in Redis that the store's own writes cannot produce.
export class StoreInvariantError extends Error {
  override readonly name = "StoreInvariantError";
}

const redirectedAttempts = 4;
// A script Redis no longer holds is sent whole again by ioredis once; if it
// is lost again before it runs (SCRIPT FLUSH, eviction of EVAL scripts), the
// operation is repeated.
const scriptAttempts = 3;
const redirections = /^(MOVED|ASK)\b/;
const transientReplies = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|MOVED|ASK)\b/;

export interface CallPolicy {
  // The bound on a whole store operation, all its commands and repeats,
  // counted from its start: a command waiting in the automatic pipeline
  // behind a hung one has no time of its own.
  timeoutMs: number;
  refusals: WriteRefusals;
}

// Runs one store operation under the failure policy. Redis failures (no
// connection, no answer within the policy's time, a transient reply such as
// LOADING, a refusal to write such as OOM) reach callers as
// StoreUnavailableError, a refusal naming its cause and noted in the
// policy's refusals; replies that signal a bug (a script error, a wrong type)
// and broken invariants stay as they are. After the deadline the operation's
// commands may still run: like any command that timed out, its outcome is
// unknown to the caller.
//
// On a cluster, ioredis follows MOVED and ASK itself, except in an automatic
// pipeline whose commands were redirected with different replies (several
// slots of one master, each redirected after a failover or a slot
// migration): each command then fails with its own redirection and the slot
// map is left stale. A redirected command did not run, and every operation
// may run again from its start (its earlier steps are idempotent), so the
// slot map is refreshed and the operation repeated, a few times at most.
export function guarded<T>(client: Client, policy: CallPolicy, operation: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`Redis did not answer within ${policy.timeoutMs} ms`)), policy.timeoutMs);
  });
  return Promise.race([attempts(client, policy, operation), expired]).finally(() => clearTimeout(timer));
}

async function attempts<T>(client: Client, policy: CallPolicy, operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (client instanceof Cluster && attempt < redirectedAttempts && isRedirection(error)) {
        storeErrors.labels("redirected").inc();
        await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
        continue;
      }
      storeErrors.labels(errorKind(error)).inc();
      const refusal = refusalOf(error);
      if (refusal === "scripts_lost" && attempt < scriptAttempts) continue;
      if (refusal !== undefined) {
        policy.refusals.refused(refusal, (error as Error).message.replace(/ script: .*$/s, ""));
        throw new StoreUnavailableError(refusalText[refusal], { cause: error, refusal });
      }
      if (error instanceof StoreUnavailableError || !isUnavailability(error)) throw error;
      throw new StoreUnavailableError((error as Error).message, { cause: error });
    }
  }
}

// The kind of a failed store operation, for rollcall_store_errors_total.
function errorKind(error: unknown): "unavailable" | "invariant" | "reply" | "other" {
  if (error instanceof StoreUnavailableError || isUnavailability(error)) return "unavailable";
  if (error instanceof StoreInvariantError) return "invariant";
  return error instanceof Error && error.name === "ReplyError" ? "reply" : "other";
}

function isRedirection(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError" && redirections.test(error.message);
}

function isUnavailability(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof StoreInvariantError) return false;
  if (error.name !== "ReplyError") return true;
  return transientReplies.test(error.message);
}

function hostAndPort(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(":");
  return { host: node.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(node.slice(colon + 1)) };
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable REDIS_URL)";
  }
}
