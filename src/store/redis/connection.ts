import { Cluster, Redis } from "ioredis";
import { StoreUnavailableError } from "../../domain/errors.js";
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
  await client.connect();
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

// Pings the master of every slot, as the client maps them: a cluster that
// lost a master cannot serve the rooms hashed to it until a replica takes over.
export async function pingMasters(cluster: Cluster): Promise<void> {
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
  await Promise.all([...owners].map((owner) => masters.get(owner)!.ping()));
}

// Data in Redis that the store's own writes cannot produce.
export class StoreInvariantError extends Error {
  override readonly name = "StoreInvariantError";
}

const redirectedAttempts = 4;
const redirections = /^(MOVED|ASK)\b/;
const transientReplies = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|MOVED|ASK)\b/;

// Runs one store operation under the failure policy. Redis failures (no
// connection, a timeout, a transient reply such as LOADING) reach callers as
// StoreUnavailableError; replies that signal a bug (a script error, a wrong
// type) and broken invariants stay as they are.
//
// On a cluster, ioredis follows MOVED and ASK itself, except in an automatic
// pipeline whose commands were redirected with different replies (several
// slots of one master, each redirected after a failover or a slot
// migration): each command then fails with its own redirection and the slot
// map is left stale. A redirected command did not run, and every operation
// may run again from its start (its earlier steps are idempotent), so the
// slot map is refreshed and the operation repeated, a few times at most.
export async function guarded<T>(client: Client, operation: () => Promise<T>): Promise<T> {
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
