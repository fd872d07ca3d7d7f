import { expect } from "chai";
import { randomInt } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { durationSeconds } from "../../src/operations/duration.js";
import { RollcallError, type ErrorKind, type ErrorReason } from "../../src/operations/errors.js";
import { ParticipantOperations, type JoinResult, type ListParticipantsInput } from "../../src/operations/participants.js";
import { RoomOperations, type CreateRoomInput, type ListRoomsInput } from "../../src/operations/rooms.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { participantStatuses, roomStatuses, type ParticipantRecord, type ParticipantStatus, type RoomRecord, type RoomStatus } from "../../src/store/records.js";
import { RedisStore } from "../../src/store/redis-store.js";
import type { Cursor, Store } from "../../src/store/store.js";
import { emptySharedRedis, type SharedRedis } from "../support/fixtures.js";

// A randomized model-based test of the operations layer. A seeded generator
// drives thousands of operations over a few accounts, a handful of room names
// and a small pool of identities, so identities are reused and displaced,
// rooms fill up and complete and their names come back as new rooms. It runs
// RoomOperations and ParticipantOperations over the memory store and over a
// throwaway redis-server, with a clock the test controls.
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

const steps = positiveInteger("MODEL_STEPS", 3000);
const seed = process.env.MODEL_SEED ? positiveInteger("MODEL_SEED", 0) : randomInt(2 ** 32);
const batches = Math.max(5, Math.round(steps / 20));

// Small enough that ad-hoc rooms fill up with the identity pool below.
const maxParticipantsLimit = 4;
const identities = ["ann", "bob", "cy", "dee", "eve", "fay", "zoë 👋"];
const roomNames = ["standup", "retro", "lobby", "café ☕", "Q"];
const t0 = 1_700_000_000_000;
// Zero often, so that records share start times and ties fall to the sid.
const clockSteps = [0, 0, 0, 1, 2, 999, 1000, 1001, 1500, 61_000];
// A limit no listing in this test reaches: reads of the whole store.
const everything = 1_000_000;
const sweepEvery = 500;
// Reading back everything costs a read per room and per identity, so the
// serial part does it this often; in between, each step reads back what it
// could have changed: the rooms it touched (found in every index), the
// identities and the names it touched.
const fullCheckEvery = 100;

const roomSidForm = /^RM[0-9a-fA-F]{32}$/;
const participantSidForm = /^PA[0-9a-fA-F]{32}$/;

// The kind each reason has, stated here independently of errors.ts.
const kindOf: Partial<Record<ErrorReason, ErrorKind>> = {
  invalid_parameter: "invalid_argument",
  room_name_invalid: "invalid_argument",
  max_participants_out_of_range: "invalid_argument",
  page_size_out_of_range: "invalid_argument",
  status_invalid: "invalid_argument",
  room_not_found: "not_found",
  participant_not_found: "not_found",
  room_exists: "already_exists",
  room_completed: "failed_precondition",
  room_full: "resource_exhausted",
};

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return value;
}

// mulberry32: a 32-bit state, enough to make every run replayable from its seed.
class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  float(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from nothing");
    return items[this.int(items.length)]!;
  }

  // One of the choices, each as likely as its weight.
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let left = this.float() * choices.reduce((sum, [weight]) => sum + weight, 0);
    for (const [weight, value] of choices) {
      left -= weight;
      if (left < 0) return value;
    }
    return choices.at(-1)![1];
  }

  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }

  sid(prefix: string): string {
    let hex = "";
    for (let i = 0; i < 32; i++) hex += this.int(16).toString(16);
    return prefix + hex;
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: RollcallError };
type Prediction<T> = { ok: true; value: T } | { ok: false; reason: ErrorReason };

async function attempt<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    // Anything but a domain error (a store failure, a TypeError) fails the test as it is.
    if (error instanceof RollcallError) return { ok: false, error };
    throw error;
  }
}

function accept<T>(value: T): Prediction<T> {
  return { ok: true, value };
}

function refuse(reason: ErrorReason): { ok: false; reason: ErrorReason } {
  return { ok: false, reason };
}

function succeeded<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) expect.fail(`expected success, got ${outcome.error.reason}: ${outcome.error.message}`);
  return outcome.value;
}

function expectRefused(outcome: Outcome<unknown>, ...reasons: ErrorReason[]): void {
  if (outcome.ok) expect.fail(`expected ${reasons.join(" or ")}, got success: ${show(outcome.value)}`);
  expect(reasons, `reason of "${outcome.error.message}"`).to.include(outcome.error.reason);
  expect(outcome.error.kind, `kind of ${outcome.error.reason}`).to.equal(kindOf[outcome.error.reason]);
}

function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === undefined ? "(none)" : v));
}

function canonical(text: string, form: RegExp): string | undefined {
  return form.test(text) ? text.slice(0, 2) + text.slice(2).toLowerCase() : undefined;
}

function comparePositions(aTime: number, aSid: string, bTime: number, bSid: string): number {
  return aTime - bTime || (aSid < bSid ? -1 : aSid > bSid ? 1 : 0);
}

const byStart = (a: ParticipantRecord, b: ParticipantRecord) => comparePositions(a.startTime, a.sid, b.startTime, b.sid);
const byCreated = (a: RoomRecord, b: RoomRecord) => comparePositions(a.dateCreated, a.sid, b.dateCreated, b.sid);

// chai builds an assertion object for every expect, which adds up over the
// thousands of records read back after each step: these check plainly and
// go through chai only to report a failure (with its diff).
function check(holds: boolean, message: () => string): void {
  if (!holds) expect.fail(message());
}

function expectSame<T>(actual: T, expected: T, message: () => string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, message()).to.deep.equal(expected);
}

// Strictly ascending, which also rules out repeats.
function expectStrictlyOrdered<T>(records: T[], order: (a: T, b: T) => number, what: () => string): void {
  for (let i = 1; i < records.length; i++) {
    check(order(records[i - 1]!, records[i]!) < 0, () => `${what()}: records ${i - 1} and ${i} out of order or repeated: ${show(records.slice(i - 1, i + 1))}`);
  }
}

const isPresent = (p: ParticipantRecord) => p.status !== "disconnected";

interface TimeWindow {
  dateCreatedAfter?: number | undefined;
  dateCreatedBefore?: number | undefined;
}

function inWindow(time: number, window: TimeWindow): boolean {
  return (window.dateCreatedAfter === undefined || time >= window.dateCreatedAfter) && (window.dateCreatedBefore === undefined || time < window.dateCreatedBefore);
}

interface RoomSnapshot {
  room: RoomRecord;
  byStatus: Record<ParticipantStatus, ParticipantRecord[]>;
  all: ParticipantRecord[];
  present: ParticipantRecord[];
}

// Reads a room and all its participants back from the store and checks what
// must hold whatever happened before: each participant listed once, under its
// status, in (start_time, sid) order; at most one present participant per
// identity and no more than max_participants; end times and durations on
// every disconnected participant; nobody present in a completed room; and
// the present directory and the by-identity index agreeing with the listings,
// for the identities given or else for the pool's and every one listed.
async function inspectRoom(store: Store, account: string, sid: string, only?: readonly string[]): Promise<RoomSnapshot> {
  const byIdentity = (names: readonly string[]) =>
    Promise.all(
      names.map(async (identity) => {
        const [found, listed] = await Promise.all([
          store.findPresentParticipant(account, sid, identity),
          Promise.all(participantStatuses.map((status) => store.listParticipants(account, sid, { status, identity, limit: everything }))),
        ]);
        return { identity, found, listed };
      }),
    );
  // The pool's identities are read at once; identities replaced by
  // anonymization only once the listings name them.
  const [room, lists, pooled] = await Promise.all([
    store.getRoom(account, sid),
    Promise.all(participantStatuses.map((status) => store.listParticipants(account, sid, { status, limit: everything }))),
    byIdentity(only ?? identities),
  ]);
  if (room === undefined) expect.fail(`room ${sid} of ${account} is not in the store`);
  const byStatus = {} as Record<ParticipantStatus, ParticipantRecord[]>;
  participantStatuses.forEach((status, i) => {
    const listed = lists[i]!;
    byStatus[status] = listed;
    expectStrictlyOrdered(listed, byStart, () => `${status} participants of ${sid}`);
    for (const p of listed) {
      check(p.status === status && p.roomSid === sid && p.accountSid === account, () => `${show(p)} listed as ${status} in ${sid} of ${account}`);
      if (status !== "disconnected") {
        check(p.endTime === undefined, () => `present ${p.sid} has an end_time: ${show(p)}`);
        continue;
      }
      const duration = durationSeconds(p.startTime, p.endTime);
      check(p.endTime !== undefined && p.endTime >= p.startTime, () => `end_time of disconnected ${show(p)}`);
      check(Number.isInteger(duration) && duration! >= 0, () => `duration of ${p.sid}: ${duration}`);
    }
  });
  const all = lists.flat();
  check(new Set(all.map((p) => p.sid)).size === all.length, () => `a participant of ${sid} listed under two statuses: ${show(all)}`);
  const present = all.filter(isPresent);
  const presentIdentities = present.map((p) => p.identity);
  check(new Set(presentIdentities).size === present.length, () => `an identity present twice in ${sid}: ${show(presentIdentities)}`);
  check(present.length <= room.maxParticipants, () => `${present.length} present in ${sid} with max_participants ${room.maxParticipants}`);
  if (room.status === "in-progress") {
    check(room.endTime === undefined, () => `in-progress ${sid} has an end_time: ${show(room)}`);
  } else {
    expectSame(present, [], () => `present participants of ${room.status} room ${sid}`);
    check(room.endTime !== undefined && room.endTime >= room.dateCreated, () => `end_time of ${room.status} ${show(room)}`);
  }
  // Identities that left, and identities replaced by anonymization, too: a
  // stale index member or directory entry would show up under them.
  const others = only !== undefined ? [] : await byIdentity([...new Set(all.map((p) => p.identity).filter((identity) => !identities.includes(identity)))]);
  for (const { identity, found, listed } of [...pooled, ...others]) {
    expectSame(found, present.find((p) => p.identity === identity), () => `present participant ${show(identity)} of ${sid}`);
    participantStatuses.forEach((status, i) => {
      expectSame(listed[i], byStatus[status].filter((p) => p.identity === identity), () => `${status} participants of ${sid} with identity ${show(identity)}`);
    });
  }
  return { room, byStatus, all, present };
}

// Reads an account's rooms back: each listed once, under its status, in
// (date_created, sid) order; the unique names of in-progress rooms distinct;
// for those and the pool's names, the name directory and the by-name index
// agreeing with the listings.
async function inspectAccount(store: Store, account: string): Promise<Map<RoomStatus, RoomRecord[]>> {
  const byName = (names: readonly string[]) =>
    Promise.all(
      [...new Set(names)].map(async (name) => {
        const [found, listed] = await Promise.all([
          store.findRoomByName(account, name),
          Promise.all(roomStatuses.map((status) => store.listRooms(account, { status, uniqueName: name, limit: everything }))),
        ]);
        return { name, found, listed };
      }),
    );
  const lists = await Promise.all(roomStatuses.map((status) => store.listRooms(account, { status, limit: everything })));
  const byStatus = new Map<RoomStatus, RoomRecord[]>();
  roomStatuses.forEach((status, i) => {
    const listed = lists[i]!;
    byStatus.set(status, listed);
    expectStrictlyOrdered(listed, byCreated, () => `${status} rooms of ${account}`);
    for (const room of listed) check(room.status === status && room.accountSid === account, () => `${show(room)} listed as ${status} in ${account}`);
  });
  const all = lists.flat();
  check(new Set(all.map((r) => r.sid)).size === all.length, () => `a room of ${account} listed under two statuses: ${show(all.map((r) => r.sid))}`);
  const open = byStatus.get("in-progress")!;
  const held = open.map((r) => r.uniqueName);
  check(new Set(held).size === held.length, () => `unique names held twice in ${account}: ${show(held)}`);
  for (const { name, found, listed } of await byName([...roomNames, ...held])) {
    expectSame(found, open.find((r) => r.uniqueName === name), () => `in-progress room named ${show(name)}`);
    roomStatuses.forEach((status, i) => {
      expectSame(listed[i], byStatus.get(status)!.filter((r) => r.uniqueName === name), () => `${status} rooms named ${show(name)}`);
    });
  }
  return byStatus;
}

// A failure names the seed that replays it and the steps that led to it.
async function replayable(part: string, trace: string[], run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const replay = `${part} failed; replay with MODEL_SEED=${seed} MODEL_STEPS=${steps}\nlast steps:\n  ${trace.join("\n  ")}\n`;
    if (error instanceof Error) error.message = `${replay}${error.message}`;
    throw error;
  }
}

class Stats {
  private readonly counts = new Map<string, number>();

  count(operation: string, outcome: Outcome<unknown>): void {
    const key = `${operation}: ${outcome.ok ? "ok" : outcome.error.reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  print(title: string): void {
    if (!process.env.MODEL_STATS) return;
    const lines = [...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, n]) => `${key} ${n}`);
    console.log(`      ${title}\n        ${lines.join("\n        ")}`);
  }
}

// ---------------------------------------------------------------------------
// The model of the serial part: rooms and participants as plain records.

interface ModelRoom {
  record: RoomRecord;
  // In join order, so that a random pick does not depend on random sids.
  participants: ParticipantRecord[];
}

class Model {
  private readonly bySid = new Map<string, ModelRoom>();
  private readonly byAccount = new Map<string, ModelRoom[]>();
  readonly participantSids = new Set<string>();

  add(record: RoomRecord): ModelRoom {
    const room = { record, participants: [] };
    this.bySid.set(record.sid, room);
    const rooms = this.byAccount.get(record.accountSid) ?? [];
    rooms.push(room);
    this.byAccount.set(record.accountSid, rooms);
    return room;
  }

  has(sid: string): boolean {
    return this.bySid.has(sid);
  }

  get(sid: string): ModelRoom {
    return this.bySid.get(sid)!;
  }

  // A room as the account sees it: another account's room is missing.
  room(account: string, sid: string): ModelRoom | undefined {
    const room = this.bySid.get(sid);
    return room?.record.accountSid === account ? room : undefined;
  }

  roomsOf(account: string): ModelRoom[] {
    return this.byAccount.get(account) ?? [];
  }

  all(): ModelRoom[] {
    return [...this.bySid.values()];
  }

  named(account: string, name: string): ModelRoom | undefined {
    return this.roomsOf(account).find((r) => r.record.status === "in-progress" && r.record.uniqueName === name);
  }
}

function presentWith(room: ModelRoom, identity: string): ParticipantRecord | undefined {
  return room.participants.find((p) => isPresent(p) && p.identity === identity);
}

function disconnectAt(p: ParticipantRecord, now: number): void {
  if (!isPresent(p)) return;
  p.status = "disconnected";
  p.endTime = Math.max(now, p.startTime);
  p.dateUpdated = p.endTime;
}

// One listing walked a page at a time; a walk may pause between steps while
// other operations change what it lists.
interface Walk {
  label: string;
  // The sids listed so far, and, from its first page, all the sids the model
  // expected the whole listing to hold at that moment.
  listed: string[];
  expected: string[] | undefined;
  next(): Promise<"more" | "done" | "refused">;
}

interface Listing<R extends { sid: string }, S extends string> {
  label: string;
  statuses: readonly S[];
  // The status asked for on the first page.
  status: S | undefined;
  fetch(input: { status: S | undefined; pageSize: number | undefined; pageToken: string | undefined }): Promise<{ records: R[]; token: string }>;
  // Everything the listing names now, in order, once its status is settled.
  expected(status: S | undefined): Prediction<{ status: S; records: R[] }>;
  timeOf(record: R): number;
}

class SerialRun {
  readonly trace: string[] = [];
  readonly stats = new Stats();
  private readonly model = new Model();
  private readonly roomOps: RoomOperations;
  private readonly participantOps: ParticipantOperations;
  private readonly accounts: string[];
  private readonly walks: Walk[] = [];
  private readonly times: number[] = [];
  private readonly touchedRooms = new Set<string>();
  private readonly touchedAccounts = new Set<string>();
  private readonly touchedNames = new Set<string>();
  private readonly touchedIdentities = new Set<string>();
  private time: number;
  private stepIndex = 0;

  constructor(
    private readonly store: Store,
    private readonly rng: Random,
  ) {
    this.time = t0 + rng.int(1000);
    const now = () => this.time;
    this.roomOps = new RoomOperations(store, { maxParticipants: maxParticipantsLimit }, now);
    this.participantOps = new ParticipantOperations(store, this.roomOps, now);
    this.accounts = [rng.sid("AC"), rng.sid("AC"), rng.sid("AC")];
  }

  async step(index: number): Promise<void> {
    this.stepIndex = index;
    this.time += this.rng.pick(clockSteps);
    this.times.push(this.time);
    this.touchedRooms.clear();
    this.touchedAccounts.clear();
    this.touchedNames.clear();
    this.touchedIdentities.clear();
    const operation = this.rng.weighted<() => Promise<void>>([
      [30, () => this.join()],
      [12, () => this.kick()],
      [4, () => this.anonymize()],
      [6, () => this.createRoom()],
      [5, () => this.completeRoom()],
      [5, () => this.getRoom()],
      [8, () => this.getParticipant()],
      [12, () => this.list(this.participantListing(this.account()))],
      [7, () => this.list(this.roomListing(this.account()))],
      [8, () => this.continueWalk()],
    ]);
    await operation();
    const full = (index + 1) % fullCheckEvery === 0;
    const rooms = [...this.touchedRooms].map((sid) => this.model.get(sid));
    for (const room of rooms) this.touchedNames.add(room.record.uniqueName);
    const touchedIdentities = full ? undefined : [...this.touchedIdentities];
    await Promise.all([
      ...[...this.touchedAccounts].map((account) => (full ? this.compareAccount(account) : this.compareNames(account, [...this.touchedNames]))),
      ...rooms.map((room) => this.compareRoom(room, touchedIdentities)),
    ]);
    if ((index + 1) % sweepEvery === 0) await this.sweep();
  }

  // Every account and every room against the model.
  async sweep(): Promise<void> {
    await Promise.all([...this.accounts.map((account) => this.compareAccount(account)), ...this.model.all().map((room) => this.compareRoom(room))]);
  }

  private async compareAccount(account: string): Promise<void> {
    const listed = await inspectAccount(this.store, account);
    const rooms = this.model.roomsOf(account).map((r) => r.record);
    for (const status of roomStatuses) {
      expectSame(listed.get(status), rooms.filter((r) => r.status === status).sort(byCreated), () => `${status} rooms of ${account}`);
    }
  }

  // The in-progress room holding each name, in the directory and in the by-name index.
  private async compareNames(account: string, names: string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const [found, listed] = await Promise.all([
          this.store.findRoomByName(account, name),
          this.store.listRooms(account, { status: "in-progress", uniqueName: name, limit: everything }),
        ]);
        const holder = this.model.named(account, name)?.record;
        expectSame(found, holder, () => `in-progress room named ${show(name)} of ${account}`);
        expectSame(listed, holder === undefined ? [] : [holder], () => `in-progress rooms named ${show(name)} of ${account}`);
      }),
    );
  }

  // The room and its participants as the store has them, and the room in
  // each index of its account: listed under its status and nowhere else,
  // read through a window of the one millisecond it was created in.
  private async compareRoom(room: ModelRoom, identities?: readonly string[]): Promise<void> {
    const { sid, accountSid, dateCreated, uniqueName } = room.record;
    const window = { after: dateCreated, before: dateCreated + 1, limit: everything };
    const [snapshot, listed] = await Promise.all([
      inspectRoom(this.store, accountSid, sid, identities),
      Promise.all(
        roomStatuses.map((status) =>
          Promise.all([this.store.listRooms(accountSid, { status, ...window }), this.store.listRooms(accountSid, { status, uniqueName, ...window })]),
        ),
      ),
    ]);
    expectSame(snapshot.room, room.record, () => `room ${sid}`);
    for (const status of participantStatuses) {
      expectSame(snapshot.byStatus[status], room.participants.filter((p) => p.status === status).sort(byStart), () => `${status} participants of ${sid}`);
    }
    const created = this.model
      .roomsOf(accountSid)
      .map((r) => r.record)
      .filter((r) => r.dateCreated === dateCreated)
      .sort(byCreated);
    roomStatuses.forEach((status, i) => {
      const [all, named] = listed[i]!;
      const expected = created.filter((r) => r.status === status);
      expectSame(all, expected, () => `${status} rooms created at ${dateCreated}`);
      expectSame(named, expected.filter((r) => r.uniqueName === uniqueName), () => `${status} rooms named ${show(uniqueName)} created at ${dateCreated}`);
    });
  }

  private note(line: string): void {
    this.trace.push(`step ${this.stepIndex} at t0+${this.time - t0}: ${line}`);
    if (this.trace.length > 40) this.trace.shift();
  }

  // --- choices ---

  private account(): string {
    const account = this.rng.weighted([
      [8, this.accounts[0]!],
      [2, this.accounts[1]!],
      [1, this.accounts[2]!],
    ]);
    this.touchedAccounts.add(account);
    return account;
  }

  // Mostly among the newest, so that recent rooms see most of the traffic.
  private recent<T>(items: readonly T[]): T {
    return this.rng.chance(0.7) ? this.rng.pick(items.slice(-8)) : this.rng.pick(items);
  }

  // Sids are accepted in either case.
  private sidText(sid: string): string {
    return this.rng.chance(0.1) ? sid.slice(0, 2) + sid.slice(2).toUpperCase() : sid;
  }

  private ownRoomSid(account: string): string {
    const own = this.model.roomsOf(account);
    return own.length > 0 ? this.sidText(this.recent(own).record.sid) : this.rng.pick(roomNames);
  }

  private foreignRoomSid(account: string): string {
    const foreign = this.model.all().filter((r) => r.record.accountSid !== account);
    return foreign.length > 0 ? this.sidText(this.rng.pick(foreign).record.sid) : this.rng.sid("RM");
  }

  private roomRef(account: string): string {
    return this.rng.weighted<() => string>([
      [45, () => this.ownRoomSid(account)],
      [38, () => this.rng.pick(roomNames)],
      [8, () => this.foreignRoomSid(account)],
      [6, () => this.rng.sid("RM")],
      [3, () => ""],
    ])();
  }

  private participantRef(account: string, roomRef: string): string {
    const sid = canonical(roomRef, roomSidForm);
    const room = sid !== undefined ? this.model.room(account, sid) : this.model.named(account, roomRef);
    const inRoom = room?.participants ?? [];
    const elsewhere = this.model.all().filter((r) => r.participants.length > 0);
    return this.rng.weighted<() => string>([
      [40, () => (inRoom.length > 0 ? this.sidText(this.recent(inRoom).sid) : this.rng.pick(identities))],
      [37, () => this.rng.pick(identities)],
      [10, () => (elsewhere.length > 0 ? this.rng.pick(this.rng.pick(elsewhere).participants).sid : this.rng.sid("PA"))],
      [8, () => this.rng.sid("PA")],
      [5, () => ""],
    ])();
  }

  // A time near the start times of recent steps, on either side of one.
  private timeBound(): number | undefined {
    return this.rng.weighted<() => number | undefined>([
      [70, () => undefined],
      [25, () => this.recent(this.times.slice(-50)) + this.rng.pick([-1, 0, 0, 1])],
      [5, () => this.rng.pick([0, t0, this.time + 1])],
    ])();
  }

  // --- what the operations must do, from the model ---

  // rooms.get: a room by sid (any status), or the in-progress room holding a name.
  private predictRoom(account: string, ref: string): Prediction<ModelRoom> {
    if (ref === "") return refuse("invalid_parameter");
    const sid = canonical(ref, roomSidForm);
    if (sid === undefined) this.touchedNames.add(ref);
    const room = sid !== undefined ? this.model.room(account, sid) : this.model.named(account, ref);
    if (room === undefined) return refuse("room_not_found");
    this.touchedRooms.add(room.record.sid);
    return accept(room);
  }

  // rooms.sidOf: a sid is taken as given, whether or not the room exists.
  private predictRoomSid(account: string, ref: string): Prediction<string> {
    const sid = canonical(ref, roomSidForm);
    if (sid !== undefined) return accept(sid);
    const room = this.predictRoom(account, ref);
    return room.ok ? accept(room.value.record.sid) : room;
  }

  // The participant named by sid (any status) or by the identity of a present one.
  private predictParticipant(account: string, roomRef: string, ref: string): Prediction<ParticipantRecord> {
    const roomSid = this.predictRoomSid(account, roomRef);
    if (!roomSid.ok) return roomSid;
    if (ref === "") return refuse("invalid_parameter");
    const room = this.model.room(account, roomSid.value);
    if (room === undefined) return refuse("participant_not_found");
    this.touchedRooms.add(room.record.sid);
    const sid = canonical(ref, participantSidForm);
    const found = sid !== undefined ? room.participants.find((p) => p.sid === sid) : presentWith(room, ref);
    return found === undefined ? refuse("participant_not_found") : accept(found);
  }

  // The room a join lands in; undefined for a new ad-hoc room.
  private predictJoin(account: string, target: string, identity: string): Prediction<ModelRoom | undefined> {
    let room: ModelRoom | undefined;
    if (canonical(target, roomSidForm) !== undefined) {
      const found = this.predictRoom(account, target);
      if (!found.ok) return found;
      room = found.value;
      if (room.record.status !== "in-progress") return refuse("room_completed");
    } else {
      if (target === "") return refuse("room_name_invalid");
      this.touchedNames.add(target);
      room = this.model.named(account, target);
      if (room !== undefined) this.touchedRooms.add(room.record.sid);
    }
    if (room !== undefined) {
      const present = room.participants.filter(isPresent).length;
      const others = present - (presentWith(room, identity) ? 1 : 0);
      if (others >= room.record.maxParticipants) return refuse("room_full");
    }
    return accept(room);
  }

  private roomRecord(sid: string, account: string, input: CreateRoomInput): RoomRecord {
    return {
      sid,
      accountSid: account,
      uniqueName: input.uniqueName || sid,
      status: "in-progress",
      type: input.type || "group",
      maxParticipants: input.maxParticipants ?? Math.min(50, maxParticipantsLimit),
      maxParticipantDuration: 14400,
      emptyRoomTimeout: 5,
      unusedRoomTimeout: 5,
      statusCallback: input.statusCallback ?? "",
      statusCallbackMethod: (input.statusCallbackMethod || "POST").toUpperCase(),
      dateCreated: this.time,
      dateUpdated: this.time,
      endTime: undefined,
    };
  }

  private expectNewSid(sid: string, form: RegExp, known: boolean): void {
    expect(sid, "a new sid").to.match(form);
    expect(canonical(sid, form), "sids are issued in lowercase").to.equal(sid);
    expect(known, `new sid ${sid} already in use`).to.equal(false);
  }

  // --- operations ---

  private async join(): Promise<void> {
    const account = this.account();
    const target = this.rng.weighted<() => string>([
      [55, () => this.rng.pick(roomNames)],
      [33, () => this.ownRoomSid(account)],
      [5, () => this.foreignRoomSid(account)],
      [5, () => this.rng.sid("RM")],
      [2, () => ""],
    ])();
    const identity = this.rng.pick(identities);
    const predicted = this.predictJoin(account, target, identity);
    this.note(`join ${show(target)} as ${show(identity)} in ${account}`);
    const outcome = await attempt(() => this.participantOps.join(account, target, identity));
    this.stats.count("join", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const { participant, displaced } = succeeded(outcome);
    let room = predicted.value;
    if (room === undefined) {
      this.expectNewSid(participant.roomSid, roomSidForm, this.model.has(participant.roomSid));
      room = this.model.add(this.roomRecord(participant.roomSid, account, { uniqueName: target }));
    }
    this.touchedRooms.add(room.record.sid);
    this.expectNewSid(participant.sid, participantSidForm, this.model.participantSids.has(participant.sid));
    expect(participant).to.deep.equal({
      sid: participant.sid,
      roomSid: room.record.sid,
      accountSid: account,
      identity,
      status: "connected",
      startTime: this.time,
      dateUpdated: this.time,
      endTime: undefined,
    });
    this.touchedIdentities.add(identity);
    const previous = presentWith(room, identity);
    if (previous !== undefined) disconnectAt(previous, this.time);
    expect(displaced, "the participant the join displaced").to.deep.equal(previous && { ...previous });
    room.participants.push({ ...participant });
    this.model.participantSids.add(participant.sid);
  }

  private async kick(): Promise<void> {
    const account = this.account();
    const room = this.roomRef(account);
    const participant = this.participantRef(account, room);
    const status = this.rng.weighted<ParticipantStatus | undefined>([
      [93, "disconnected"],
      [3, "connected"],
      [2, "reconnecting"],
      [2, undefined],
    ]);
    const predicted = status !== "disconnected" ? refuse("status_invalid") : this.predictParticipant(account, room, participant);
    this.note(`update ${show(participant)} in ${show(room)} of ${account} to ${status}`);
    const outcome = await attempt(() => this.participantOps.update(account, room, participant, status));
    this.stats.count("kick", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    this.touchedIdentities.add(predicted.value.identity);
    disconnectAt(predicted.value, this.time);
    expect(succeeded(outcome)).to.deep.equal(predicted.value);
  }

  private async anonymize(): Promise<void> {
    const account = this.account();
    const room = this.roomRef(account);
    const participant = this.participantRef(account, room);
    const predicted = this.predictParticipant(account, room, participant);
    this.note(`anonymize ${show(participant)} in ${show(room)} of ${account}`);
    const outcome = await attempt(() => this.participantOps.anonymize(account, room, participant));
    this.stats.count("anonymize", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const p = predicted.value;
    this.touchedIdentities.add(p.identity).add(p.sid);
    if (p.identity !== p.sid) {
      p.identity = p.sid;
      p.dateUpdated = Math.max(this.time, p.startTime);
    }
    expect(succeeded(outcome)).to.deep.equal(p);
  }

  private async getParticipant(): Promise<void> {
    const account = this.account();
    const room = this.roomRef(account);
    const participant = this.participantRef(account, room);
    const predicted = this.predictParticipant(account, room, participant);
    this.note(`get ${show(participant)} in ${show(room)} of ${account}`);
    const outcome = await attempt(() => this.participantOps.get(account, room, participant));
    this.stats.count("get participant", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    expect(succeeded(outcome)).to.deep.equal(predicted.value);
  }

  private async createRoom(): Promise<void> {
    const account = this.account();
    const input: CreateRoomInput = {
      uniqueName: this.rng.weighted<() => string | undefined>([
        [70, () => this.rng.pick(roomNames)],
        [25, () => undefined],
        [5, () => this.sidText(this.rng.sid("RM"))],
      ])(),
      maxParticipants: this.rng.weighted<() => number | undefined>([
        [30, () => undefined],
        [62, () => this.rng.between(1, maxParticipantsLimit)],
        [8, () => this.rng.pick([0, maxParticipantsLimit + 1])],
      ])(),
      type: this.rng.chance(0.2) ? this.rng.pick(["group-small", "peer-to-peer", "go"]) : undefined,
      ...(this.rng.chance(0.15) ? { statusCallback: "https://example.com/rooms", statusCallbackMethod: "get" } : {}),
    };
    if (input.uniqueName !== undefined) this.touchedNames.add(input.uniqueName);
    const max = input.maxParticipants;
    const predicted =
      input.uniqueName !== undefined && canonical(input.uniqueName, roomSidForm) !== undefined
        ? refuse("room_name_invalid")
        : max !== undefined && (max < 1 || max > maxParticipantsLimit)
          ? refuse("max_participants_out_of_range")
          : input.uniqueName !== undefined && this.model.named(account, input.uniqueName) !== undefined
            ? refuse("room_exists")
            : accept(undefined);
    this.note(`create room ${show(input)} in ${account}`);
    const outcome = await attempt(() => this.roomOps.create(account, input));
    this.stats.count("create room", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const created = succeeded(outcome);
    this.expectNewSid(created.sid, roomSidForm, this.model.has(created.sid));
    const room = this.model.add(this.roomRecord(created.sid, account, input));
    this.touchedRooms.add(created.sid);
    expect(created).to.deep.equal(room.record);
  }

  private async completeRoom(): Promise<void> {
    const account = this.account();
    const ref = this.roomRef(account);
    const status = this.rng.weighted<RoomStatus | undefined>([
      [93, "completed"],
      [3, "in-progress"],
      [2, "failed"],
      [2, undefined],
    ]);
    const predicted = status !== "completed" ? refuse("status_invalid") : this.predictRoom(account, ref);
    this.note(`update room ${show(ref)} of ${account} to ${status}`);
    const outcome = await attempt(() => this.roomOps.update(account, ref, status));
    this.stats.count("complete room", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const room = predicted.value;
    if (room.record.status === "in-progress") {
      for (const p of room.participants.filter(isPresent)) {
        this.touchedIdentities.add(p.identity);
        disconnectAt(p, this.time);
      }
      room.record.status = "completed";
      room.record.endTime = Math.max(this.time, room.record.dateCreated);
      room.record.dateUpdated = room.record.endTime;
    }
    expect(succeeded(outcome)).to.deep.equal(room.record);
  }

  private async getRoom(): Promise<void> {
    const account = this.account();
    const ref = this.roomRef(account);
    const predicted = this.predictRoom(account, ref);
    this.note(`get room ${show(ref)} of ${account}`);
    const outcome = await attempt(() => this.roomOps.get(account, ref));
    this.stats.count("get room", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    expect(succeeded(outcome)).to.deep.equal(predicted.value.record);
  }

  // --- listings ---

  private participantListing(account: string): Listing<ParticipantRecord, ParticipantStatus> {
    const room = this.roomRef(account);
    const status = this.rng.pick([undefined, undefined, undefined, "connected", "disconnected", "reconnecting"] as const);
    const identity = this.rng.weighted<() => string | undefined>([
      [60, () => undefined],
      [30, () => this.rng.pick(identities)],
      [5, () => this.participantRef(account, room) || undefined],
      [5, () => ""],
    ])();
    const filters = { room, identity, dateCreatedAfter: this.timeBound(), dateCreatedBefore: this.timeBound() };
    return {
      label: `list participants ${show({ ...filters, status })} of ${account}`,
      statuses: participantStatuses,
      status,
      fetch: async (input) => {
        const page = await this.participantOps.list(account, { ...filters, ...input } satisfies ListParticipantsInput);
        return { records: page.participants, token: page.nextPageToken };
      },
      expected: (asked) => {
        const found = this.predictRoom(account, room);
        if (!found.ok) return found;
        const settled = asked ?? (found.value.record.status === "in-progress" ? "connected" : "disconnected");
        const records = found.value.participants
          .filter((p) => p.status === settled && (!identity || p.identity === identity) && inWindow(p.startTime, filters))
          .sort(byStart);
        return accept({ status: settled, records });
      },
      timeOf: (p) => p.startTime,
    };
  }

  private roomListing(account: string): Listing<RoomRecord, RoomStatus> {
    const status = this.rng.pick([undefined, undefined, "in-progress", "completed", "failed"] as const);
    const uniqueName = this.rng.weighted<() => string | undefined>([
      [65, () => undefined],
      [30, () => this.rng.pick(roomNames)],
      [5, () => ""],
    ])();
    const filters = { uniqueName, dateCreatedAfter: this.timeBound(), dateCreatedBefore: this.timeBound() };
    return {
      label: `list rooms ${show({ ...filters, status })} of ${account}`,
      statuses: roomStatuses,
      status,
      fetch: async (input) => {
        const page = await this.roomOps.list(account, { ...filters, ...input } satisfies ListRoomsInput);
        return { records: page.rooms, token: page.nextPageToken };
      },
      expected: (asked) => {
        const settled = asked ?? "in-progress";
        const records = this.model
          .roomsOf(account)
          .map((r) => r.record)
          .filter((r) => r.status === settled && (!uniqueName || r.uniqueName === uniqueName) && inWindow(r.dateCreated, filters))
          .sort(byCreated);
        return accept({ status: settled, records });
      },
      timeOf: (r) => r.dateCreated,
    };
  }

  // A listing page by page. Every page must be exactly the records the model
  // names after the previous page's last one, whatever changed in between,
  // with a page token exactly when more follow.
  private walk<R extends { sid: string }, S extends string>(listing: Listing<R, S>): Walk {
    let position: { token: string; status: S; cursor: Cursor } | undefined;
    const walk: Walk = {
      label: listing.label,
      listed: [],
      expected: undefined,
      next: async () => {
        const at = position;
        if (at !== undefined && this.rng.chance(0.1)) {
          // A token is tied to the status it was issued for, and must be one this server issued.
          const wrong = this.rng.chance(0.5)
            ? { status: this.rng.pick(listing.statuses.filter((s) => s !== at.status)), pageToken: at.token }
            : { status: undefined, pageToken: this.rng.pick(["bm90IGEgdG9rZW4", "x", at.token.slice(0, -2)]) };
          this.note(`${listing.label}: page with ${show(wrong)}`);
          const outcome = await attempt(() => listing.fetch({ ...wrong, pageSize: 3 }));
          this.stats.count("list with a bad token", outcome);
          expectRefused(outcome, "invalid_parameter");
        }
        const pageSize =
          at === undefined
            ? this.rng.weighted<() => number | undefined>([
                [90, () => this.rng.between(1, 7)],
                [5, () => undefined],
                [5, () => this.rng.pick([0, 1001])],
              ])()
            : this.rng.between(1, 7);
        // A resumed listing keeps its status from the token when none is asked for.
        const status = at === undefined || this.rng.chance(0.6) ? listing.status : undefined;
        const size = pageSize ?? 50;
        const settled = size < 1 || size > 1000 ? refuse("page_size_out_of_range") : listing.expected(status ?? at?.status);
        this.note(`${listing.label}: page of ${pageSize} as ${status}${at ? ` after ${show(at.cursor)}` : ""}`);
        const outcome = await attempt(() => listing.fetch({ status, pageSize, pageToken: at?.token }));
        this.stats.count(at === undefined ? "list (first page)" : "list (next page)", outcome);
        if (!settled.ok) {
          expectRefused(outcome, settled.reason);
          return "refused";
        }
        const all = settled.value.records;
        const rest = at === undefined ? all : all.filter((r) => comparePositions(listing.timeOf(r), r.sid, at.cursor.time, at.cursor.sid) > 0);
        const { records, token } = succeeded(outcome);
        expectSame(records, rest.slice(0, size), () => `page of ${size}`);
        expect(token !== "", `a page token exactly when more than ${size} of ${rest.length} records follow`).to.equal(rest.length > size);
        for (const r of records) check(!walk.listed.includes(r.sid), () => `${r.sid} listed twice`);
        walk.listed.push(...records.map((r) => r.sid));
        if (at === undefined) walk.expected = all.map((r) => r.sid);
        const last = records.at(-1);
        if (token === "" || last === undefined) return "done";
        position = { token, status: settled.value.status, cursor: { time: listing.timeOf(last), sid: last.sid } };
        return "more";
      },
    };
    return walk;
  }

  // Walks a listing to its end in this step, or sometimes only its first
  // page, to be resumed in a later step after other changes.
  private async list<R extends { sid: string }, S extends string>(listing: Listing<R, S>): Promise<void> {
    const walk = this.walk(listing);
    if (this.rng.chance(0.25)) {
      if ((await walk.next()) === "more") this.walks.push(walk);
      if (this.walks.length > 4) this.walks.shift();
      return;
    }
    let result: Awaited<ReturnType<Walk["next"]>>;
    do result = await walk.next();
    while (result === "more");
    if (result === "done") expectSame(walk.listed, walk.expected, () => `${walk.label}: all pages`);
  }

  private async continueWalk(): Promise<void> {
    if (this.walks.length === 0) return this.list(this.participantListing(this.account()));
    const index = this.rng.int(this.walks.length);
    if ((await this.walks[index]!.next()) !== "more") this.walks.splice(index, 1);
  }
}

// ---------------------------------------------------------------------------
// Concurrent batches.

interface BatchOp {
  label: string;
  // Runs the operation; resolves to the check of its outcome, run once the whole batch has settled.
  run(): Promise<() => void>;
}

interface ParticipantFilters extends TimeWindow {
  status?: ParticipantStatus | undefined;
  identity?: string | undefined;
}

interface RoomFilters extends TimeWindow {
  status?: RoomStatus | undefined;
  uniqueName?: string | undefined;
}

// What a batch did, for the checks that follow it.
class BatchLog {
  readonly rooms = new Set<string>();
  readonly completionRefs = new Set<string>();
  readonly identities = new Set<string>();
  readonly participantSids = new Set<string>();
  readonly kicked: string[] = [];
  readonly anonymized: string[] = [];
  readonly completed: string[] = [];
  readonly roomWalks: { filters: RoomFilters; listed: RoomRecord[] }[] = [];
  readonly participantWalks: { room: string; filters: ParticipantFilters; listed: ParticipantRecord[] }[] = [];

  // Whether a completion in this batch may have aimed at the room.
  completionMayTarget(room: RoomRecord): boolean {
    return this.completionRefs.has(room.sid) || this.completionRefs.has(room.uniqueName);
  }
}

class ConcurrentRun {
  readonly trace: string[] = [];
  readonly stats = new Stats();
  private readonly roomOps: RoomOperations;
  private readonly participantOps: ParticipantOperations;
  private readonly account: string;
  private base = t0;
  private calls = 0;
  private batchIndex = 0;
  // Every room of the account as last read, in the order first seen.
  private readonly rooms = new Map<string, RoomRecord>();
  // Every participant a join reported, by room: the store must hold exactly these.
  private readonly joined = new Map<string, Set<string>>();

  constructor(
    private readonly store: Store,
    private readonly rng: Random,
  ) {
    // The clock moves a millisecond every third reading, so operations of a
    // batch often share a start time.
    const now = () => this.base + Math.floor(this.calls++ / 3);
    this.roomOps = new RoomOperations(store, { maxParticipants: maxParticipantsLimit }, now);
    this.participantOps = new ParticipantOperations(store, this.roomOps, now);
    this.account = rng.sid("AC");
  }

  async batch(index: number): Promise<void> {
    this.batchIndex = index;
    this.base += 10_000;
    this.calls = 0;
    const log = new BatchLog();
    const kind = this.rng.weighted([
      [30, "join storm"],
      [15, "completion race"],
      [15, "room churn"],
      [40, "mixed"],
    ] as const);
    if (kind === "join storm") await this.joinStorm(log);
    else if (kind === "completion race") await this.completionRace(log);
    else if (kind === "room churn") await this.roomChurn(log);
    else await this.mixed(log);
    await this.settle(log, (index + 1) % 20 === 0);
  }

  private note(line: string): void {
    this.trace.push(`batch ${this.batchIndex}: ${line}`);
    if (this.trace.length > 60) this.trace.shift();
  }

  private op<T>(name: string, label: string, run: () => Promise<T>, check: (outcome: Outcome<T>) => void): BatchOp {
    return {
      label: `${name} ${label}`,
      run: async () => {
        const outcome = await attempt(run);
        return () => {
          this.stats.count(name, outcome);
          check(outcome);
        };
      },
    };
  }

  private async runBatch(kind: string, ops: BatchOp[]): Promise<void> {
    this.note(`${kind}, ${ops.length} operations at once:`);
    for (const op of ops) this.note(`  ${op.label}`);
    const checks = await Promise.all(ops.map((op) => op.run()));
    checks.forEach((check, i) => {
      try {
        check();
      } catch (error) {
        if (error instanceof Error) error.message = `${ops[i]!.label}: ${error.message}`;
        throw error;
      }
    });
  }

  private register(p: ParticipantRecord): void {
    const sids = this.joined.get(p.roomSid) ?? new Set();
    sids.add(p.sid);
    this.joined.set(p.roomSid, sids);
  }

  private open(): RoomRecord[] {
    return [...this.rooms.values()].filter((r) => r.status === "in-progress");
  }

  private async newRoom(maxParticipants: number): Promise<RoomRecord> {
    const room = await this.roomOps.create(this.account, { maxParticipants });
    this.rooms.set(room.sid, room);
    this.note(`created ${room.sid} (max ${maxParticipants}) beforehand`);
    return room;
  }

  // After a batch: every room still there, the invariants of the account and
  // of the rooms the batch touched (of every room, now and then), and exactly
  // the participants joins reported in each room.
  private async settle(log: BatchLog, sweep: boolean): Promise<void> {
    const listed = await inspectAccount(this.store, this.account);
    const now = new Map([...listed.values()].flat().map((r) => [r.sid, r] as const));
    for (const sid of this.rooms.keys()) check(now.has(sid), () => `room ${sid} vanished from the listings`);
    for (const [sid, room] of now) {
      if (!this.rooms.has(sid)) log.rooms.add(sid);
      this.rooms.set(sid, room);
    }
    const inspected = sweep ? [...this.rooms.keys()] : [...log.rooms].filter((sid) => this.rooms.has(sid));
    const snapshots = await Promise.all(inspected.map((sid) => inspectRoom(this.store, this.account, sid)));
    const bySid = new Map<string, ParticipantRecord>();
    for (const snapshot of snapshots) {
      const sid = snapshot.room.sid;
      expect(snapshot.all.map((p) => p.sid).sort(), `participants of ${sid} against the joins reported`).to.deep.equal([...(this.joined.get(sid) ?? [])].sort());
      for (const p of snapshot.all) bySid.set(p.sid, p);
    }
    for (const sid of log.kicked) expect(bySid.get(sid)?.status, `kicked ${sid}`).to.equal("disconnected");
    for (const sid of log.anonymized) expect(bySid.get(sid)?.identity, `anonymized ${sid}`).to.equal(sid);
    for (const sid of log.completed) expect(this.rooms.get(sid)?.status, `completed ${sid}`).to.equal("completed");
  }

  private async snapshots(sids: Iterable<string>): Promise<Map<string, RoomSnapshot>> {
    const list = await Promise.all([...new Set(sids)].map((sid) => inspectRoom(this.store, this.account, sid)));
    return new Map(list.map((s) => [s.room.sid, s]));
  }

  // --- operations of a batch, each checked on its own ---

  private joinOp(log: BatchLog, target: string, identity: string, allowed: () => ErrorReason[], done?: (outcome: Outcome<JoinResult>) => void): BatchOp {
    log.identities.add(identity);
    const sid = canonical(target, roomSidForm);
    if (sid !== undefined) log.rooms.add(sid);
    return this.op("join", `${show(target)} as ${show(identity)}`, () => this.participantOps.join(this.account, target, identity), (outcome) => {
      done?.(outcome);
      if (!outcome.ok) return expectRefused(outcome, ...allowed());
      const { participant, displaced } = outcome.value;
      expect([participant.identity, participant.status, participant.accountSid, participant.endTime]).to.deep.equal([identity, "connected", this.account, undefined]);
      expect(participant.startTime).to.be.at.least(this.base);
      if (sid !== undefined) expect(participant.roomSid).to.equal(sid);
      if (displaced !== undefined) {
        expect([displaced.identity, displaced.status, displaced.roomSid]).to.deep.equal([identity, "disconnected", participant.roomSid]);
        expect(displaced.endTime).to.be.at.least(displaced.startTime);
      }
      this.register(participant);
      log.rooms.add(participant.roomSid);
    });
  }

  private participantRef(room: string): string {
    const sid = canonical(room, roomSidForm) ?? [...this.rooms.values()].find((r) => r.status === "in-progress" && r.uniqueName === room)?.sid;
    const known = [...(this.joined.get(sid ?? "") ?? [])];
    return known.length > 0 && this.rng.chance(0.5) ? this.rng.pick(known.slice(-10)) : this.rng.pick(identities);
  }

  private kickOp(log: BatchLog, room: string): BatchOp {
    const ref = this.participantRef(room);
    const bySid = participantSidForm.test(ref);
    if (bySid) log.participantSids.add(ref);
    else log.identities.add(ref);
    return this.op("kick", `${show(ref)} in ${show(room)}`, () => this.participantOps.update(this.account, room, ref, "disconnected"), (outcome) => {
      if (!outcome.ok) return expectRefused(outcome, ...this.missing(room));
      const p = outcome.value;
      expect(p.status).to.equal("disconnected");
      expect(p.endTime).to.be.at.least(p.startTime);
      // A kick by identity finds the participant, then disconnects it by sid:
      // an anonymization may come in between.
      if (bySid) expect(p.sid).to.equal(ref);
      else expect([ref, p.sid]).to.include(p.identity);
      log.kicked.push(p.sid);
      log.rooms.add(p.roomSid);
    });
  }

  private anonymizeOp(log: BatchLog, room: string): BatchOp {
    const ref = this.participantRef(room);
    const bySid = participantSidForm.test(ref);
    if (bySid) log.participantSids.add(ref);
    else log.identities.add(ref);
    return this.op("anonymize", `${show(ref)} in ${show(room)}`, () => this.participantOps.anonymize(this.account, room, ref), (outcome) => {
      if (!outcome.ok) return expectRefused(outcome, ...this.missing(room));
      const p = outcome.value;
      expect(p.identity).to.equal(p.sid);
      if (bySid) expect(p.sid).to.equal(ref);
      log.anonymized.push(p.sid);
      log.rooms.add(p.roomSid);
    });
  }

  private getParticipantOp(log: BatchLog, room: string, ref = this.participantRef(room)): BatchOp {
    const bySid = participantSidForm.test(ref);
    return this.op("get participant", `${show(ref)} in ${show(room)}`, () => this.participantOps.get(this.account, room, ref), (outcome) => {
      if (!outcome.ok) return expectRefused(outcome, ...this.missing(room));
      const p = outcome.value;
      if (bySid) expect(p.sid).to.equal(ref);
      else expect([p.identity, isPresent(p)], "the present participant of an identity").to.deep.equal([ref, true]);
      log.rooms.add(p.roomSid);
    });
  }

  private completeOp(log: BatchLog, room: string): BatchOp {
    log.completionRefs.add(canonical(room, roomSidForm) ?? room);
    return this.op("complete", show(room), () => this.roomOps.update(this.account, room, "completed"), (outcome) => {
      if (!outcome.ok) return expectRefused(outcome, ...this.missing(room));
      const r = outcome.value;
      expect(r.status).to.equal("completed");
      expect(r.endTime).to.be.at.least(r.dateCreated);
      expect(canonical(room, roomSidForm) !== undefined ? r.sid : r.uniqueName).to.equal(canonical(room, roomSidForm) ?? room);
      log.completed.push(r.sid);
      log.rooms.add(r.sid);
    });
  }

  private createOp(log: BatchLog, name: string | undefined): BatchOp {
    const maxParticipants = this.rng.between(1, maxParticipantsLimit);
    return this.op("create", `${show(name)} max ${maxParticipants}`, () => this.roomOps.create(this.account, { uniqueName: name, maxParticipants }), (outcome) => {
      if (!outcome.ok) return expectRefused(outcome, "room_exists");
      const r = outcome.value;
      expect([r.uniqueName, r.status, r.maxParticipants]).to.deep.equal([name ?? r.sid, "in-progress", maxParticipants]);
      log.rooms.add(r.sid);
    });
  }

  // Refusals that a room named by name may meet: no in-progress room holds it
  // (at that moment). A room named by sid is one this test created, so it exists.
  private missing(room: string): ErrorReason[] {
    return canonical(room, roomSidForm) === undefined ? ["room_not_found", "participant_not_found"] : ["participant_not_found"];
  }

  // Walks a listing to its end with page sizes fixed up front (a generator
  // drawn from while operations interleave would not replay).
  private pageSizes(): number[] {
    return Array.from({ length: 8 }, () => this.rng.between(1, 7));
  }

  private listParticipantsOp(log: BatchLog, room: string): BatchOp {
    const filters: ParticipantFilters = {
      status: this.rng.pick([undefined, undefined, "connected", "disconnected"] as const),
      identity: this.rng.chance(0.3) ? this.rng.pick(identities) : undefined,
      dateCreatedAfter: this.rng.chance(0.2) ? this.base - this.rng.int(30_000) : undefined,
      dateCreatedBefore: this.rng.chance(0.2) ? this.base - this.rng.int(30_000) : undefined,
    };
    const sizes = this.pageSizes();
    return this.op(
      "list participants",
      `of ${show(room)} ${show(filters)} pages ${sizes}`,
      async () => {
        const pages: ParticipantRecord[][] = [];
        let pageToken: string | undefined;
        do {
          const page = await this.participantOps.list(this.account, { room, ...filters, pageSize: sizes[pages.length % sizes.length], pageToken });
          pages.push(page.participants);
          pageToken = page.nextPageToken || undefined;
          if (pages.length > 10_000) throw new Error("a listing that never ends");
        } while (pageToken !== undefined);
        return pages;
      },
      (outcome) => {
        const roomSid = canonical(room, roomSidForm);
        if (!outcome.ok) {
          // Page tokens name their room: a listing by name whose room completed
          // between two pages, the name now another room's, is refused.
          const byName: ErrorReason[] = roomSid === undefined ? ["invalid_parameter"] : [];
          return expectRefused(outcome, ...this.missing(room).filter((r) => r === "room_not_found"), ...byName);
        }
        const listed = checkPages(outcome.value, sizes, (p) => p.startTime);
        const status = filters.status ?? listed[0]?.status;
        check(new Set(listed.map((p) => p.roomSid)).size <= 1, () => `a listing of ${show(room)} spans rooms`);
        for (const p of listed) {
          check(
            p.status === status && (roomSid === undefined || p.roomSid === roomSid) && (filters.identity === undefined || p.identity === filters.identity) && inWindow(p.startTime, filters),
            () => `${show(p)} listed with ${show(filters)} (status ${status}) from ${show(room)}`,
          );
        }
        log.participantWalks.push({ room, filters, listed });
      },
    );
  }

  private listRoomsOp(log: BatchLog): BatchOp {
    const filters: RoomFilters = {
      status: this.rng.pick([undefined, "in-progress", "completed"] as const),
      uniqueName: this.rng.chance(0.3) ? this.rng.pick(roomNames) : undefined,
      dateCreatedAfter: this.rng.chance(0.2) ? this.base - this.rng.int(200_000) : undefined,
      dateCreatedBefore: this.rng.chance(0.2) ? this.base - this.rng.int(200_000) : undefined,
    };
    // Small pages, so that pages end next to rooms that change.
    const sizes = Array.from({ length: 8 }, () => this.rng.between(1, 3));
    return this.op(
      "list rooms",
      `${show(filters)} pages ${sizes}`,
      async () => {
        const pages: RoomRecord[][] = [];
        let pageToken: string | undefined;
        do {
          const page = await this.roomOps.list(this.account, { ...filters, pageSize: sizes[pages.length % sizes.length], pageToken });
          pages.push(page.rooms);
          pageToken = page.nextPageToken || undefined;
          if (pages.length > 10_000) throw new Error("a listing that never ends");
        } while (pageToken !== undefined);
        return pages;
      },
      (outcome) => {
        const listed = checkPages(succeeded(outcome), sizes, (r) => r.dateCreated);
        for (const r of listed) {
          check(
            r.status === (filters.status ?? "in-progress") && (filters.uniqueName === undefined || r.uniqueName === filters.uniqueName) && inWindow(r.dateCreated, filters),
            () => `${show(r)} listed with ${show(filters)}`,
          );
        }
        log.roomWalks.push({ filters, listed });
      },
    );
  }

  // Records that no operation of the batch could change must be in every
  // listing whose filters they match: whatever the serial order, they were
  // there, unchanged, from the first page to the last.
  private checkStableListings(log: BatchLog, before: Map<string, RoomRecord>, participantsBefore: Map<string, RoomSnapshot>): void {
    for (const { filters, listed } of log.roomWalks) {
      const status = filters.status ?? "in-progress";
      const sids = new Set(listed.map((r) => r.sid));
      for (const room of before.values()) {
        const stable = room.status === "completed" || !log.completionMayTarget(room);
        if (!stable || room.status !== status || (filters.uniqueName !== undefined && room.uniqueName !== filters.uniqueName) || !inWindow(room.dateCreated, filters)) continue;
        expect(sids.has(room.sid), `${status} room ${room.sid} (${show(room.uniqueName)}), untouched by the batch, missing from rooms listed with ${show(filters)}: ${show([...sids])}`).to.equal(true);
      }
    }
    for (const { room, filters, listed } of log.participantWalks) {
      const snapshot = participantsBefore.get(canonical(room, roomSidForm) ?? "");
      if (snapshot === undefined || log.completionMayTarget(snapshot.room) || snapshot.room.status !== "in-progress") continue;
      const status = filters.status ?? "connected";
      const sids = new Set(listed.map((p) => p.sid));
      for (const p of snapshot.all) {
        const stable = !log.participantSids.has(p.sid) && (p.status === "disconnected" || !log.identities.has(p.identity));
        if (!stable || p.status !== status || (filters.identity !== undefined && p.identity !== filters.identity) || !inWindow(p.startTime, filters)) continue;
        expect(sids.has(p.sid), `${status} participant ${p.sid} (${show(p.identity)}), untouched by the batch, missing from ${show(room)} listed with ${show(filters)}`).to.equal(true);
      }
    }
  }

  // --- batches ---

  // Joins into one room, by name or by sid, with a few identities: for each
  // identity, exactly one join survives and every other one (and whoever was
  // present before) is reported displaced exactly once; refusals happen only
  // when the room is full, and then it stays full.
  private async joinStorm(log: BatchLog): Promise<void> {
    let target: string;
    if (this.rng.chance(0.5)) {
      target = this.rng.pick(roomNames);
    } else {
      const open = this.open();
      target = (open.length === 0 || this.rng.chance(0.3) ? await this.newRoom(this.rng.between(1, maxParticipantsLimit)) : this.rng.pick(open.slice(-4))).sid;
    }
    const byName = canonical(target, roomSidForm) === undefined;
    const priorRoom = byName ? await this.store.findRoomByName(this.account, target) : this.rooms.get(target);
    const prior = priorRoom && (await inspectRoom(this.store, this.account, priorRoom.sid));
    const pool = this.rng.shuffle(identities).slice(0, this.rng.between(2, identities.length));
    const joins: { identity: string; outcome: Outcome<JoinResult> }[] = [];
    const ops: BatchOp[] = [];
    const count = this.rng.between(5, 20);
    for (let i = 0; i < count; i++) {
      const identity = this.rng.pick(pool);
      const kind = this.rng.weighted([
        [80, "join"],
        [10, "list"],
        [10, "get"],
      ] as const);
      if (kind === "join") ops.push(this.joinOp(log, target, identity, () => ["room_full"], (outcome) => joins.push({ identity, outcome })));
      else if (kind === "list") ops.push(this.listParticipantsOp(log, target));
      else ops.push(this.getParticipantOp(log, target, identity));
    }
    await this.runBatch(`join storm into ${show(target)}`, ops);

    const joinedRooms = new Set(joins.flatMap(({ outcome }) => (outcome.ok ? [outcome.value.participant.roomSid] : [])));
    expect(joinedRooms.size, `rooms the joins landed in: ${show([...joinedRooms])}`).to.be.at.most(1);
    const roomSid = [...joinedRooms][0] ?? priorRoom?.sid;
    if (priorRoom !== undefined) expect(roomSid, "joins land in the room that held the name").to.equal(priorRoom.sid);
    if (roomSid === undefined) {
      expect(joins, "joins into a new room").to.deep.equal([]);
      return;
    }
    const after = (await this.snapshots([roomSid])).get(roomSid)!;
    const priorPresent = prior?.present ?? [];
    const max = after.room.maxParticipants;
    for (const identity of pool) {
      const mine = joins.filter((j) => j.identity === identity);
      const won = mine.flatMap(({ outcome }) => (outcome.ok ? [outcome.value] : []));
      const refused = mine.length - won.length;
      const priorSid = priorPresent.find((p) => p.identity === identity)?.sid;
      const holders = after.present.filter((p) => p.identity === identity).map((p) => p.sid);
      if (won.length === 0) {
        if (refused > 0) expect(priorSid, `${identity} refused although present`).to.equal(undefined);
        expect(holders, `present ${identity}`).to.deep.equal(priorSid === undefined ? [] : [priorSid]);
        continue;
      }
      expect(refused, `${identity} both joined and refused as full`).to.equal(0);
      expect(holders, `present ${identity} after ${won.length} joins`).to.have.length(1);
      const wonSids = won.map((j) => j.participant.sid);
      expect(wonSids, `present ${identity} is one that joined`).to.include(holders[0]);
      const displaced = won.flatMap((j) => (j.displaced ? [j.displaced.sid] : [])).sort();
      const replaced = [...wonSids, ...(priorSid ? [priorSid] : [])].filter((sid) => sid !== holders[0]).sort();
      expect(displaced, `participants of ${identity} reported displaced`).to.deep.equal(replaced);
      for (const sid of replaced) expect(after.all.find((p) => p.sid === sid)?.status, `displaced ${sid}`).to.equal("disconnected");
    }
    const expectedIdentities = new Set([...priorPresent.map((p) => p.identity), ...joins.filter((j) => j.outcome.ok).map((j) => j.identity)]);
    expect(after.present.map((p) => p.identity).sort(), "identities present after the storm").to.deep.equal([...expectedIdentities].sort());
    if (joins.some((j) => !j.outcome.ok)) expect(after.present.length, "a room that refused a join stays full").to.equal(max);
  }

  // Joins by name while the room of that name completes: a join that meets
  // the completion retries into the next room of the name, so no join fails
  // for a completed room, and at most one room holds the name afterwards.
  private async completionRace(log: BatchLog): Promise<void> {
    const name = this.rng.pick(roomNames);
    if (this.rng.chance(0.5)) {
      for (const identity of this.rng.shuffle(identities).slice(0, this.rng.between(1, 3))) {
        const outcome = await attempt(() => this.participantOps.join(this.account, name, identity));
        if (outcome.ok) this.register(outcome.value.participant);
        else expectRefused(outcome, "room_full");
      }
    }
    const ops: BatchOp[] = [];
    const count = this.rng.between(5, 15);
    const completeAt = this.rng.int(count);
    for (let i = 0; i < count; i++) {
      if (i === completeAt) ops.push(this.completeOp(log, name));
      else if (this.rng.chance(0.1)) ops.push(this.listRoomsOp(log));
      else ops.push(this.joinOp(log, name, this.rng.pick(identities), () => ["room_full"]));
    }
    const before = new Map(this.rooms);
    await this.runBatch(`completion race on ${show(name)}`, ops);
    this.checkStableListings(log, before, new Map());
    const landed = await Promise.all([...log.rooms].map((sid) => this.store.getRoom(this.account, sid)));
    for (const room of landed) expect(room?.uniqueName, `name of ${room?.sid}`).to.equal(name);
  }

  // Rooms created, completed and listed at once, with small pages, so that
  // pages end next to rooms that move from in progress to completed.
  private async roomChurn(log: BatchLog): Promise<void> {
    while (this.open().length < 6) await this.newRoom(maxParticipantsLimit);
    const ops: BatchOp[] = [];
    const count = this.rng.between(5, 20);
    for (let i = 0; i < count; i++) {
      const kind = this.rng.weighted([
        [30, "list"],
        [25, "complete"],
        [25, "create"],
        [20, "get"],
      ] as const);
      const open = this.open();
      if (kind === "list") ops.push(this.listRoomsOp(log));
      else if (kind === "complete") ops.push(this.completeOp(log, this.rng.chance(0.7) ? this.rng.pick(open).sid : this.rng.pick(roomNames)));
      else if (kind === "create") ops.push(this.createOp(log, this.rng.chance(0.5) ? this.rng.pick(roomNames) : undefined));
      else {
        const ref = this.rng.chance(0.5) ? this.rng.pick([...this.rooms.keys()]) : this.rng.pick(roomNames);
        ops.push(
          this.op("get room", show(ref), () => this.roomOps.get(this.account, ref), (outcome) => {
            if (!outcome.ok) return expectRefused(outcome, ...this.missing(ref).filter((r) => r === "room_not_found"));
            const r = outcome.value;
            if (canonical(ref, roomSidForm) !== undefined) expect(r.sid).to.equal(ref);
            else expect([r.uniqueName, r.status]).to.deep.equal([ref, "in-progress"]);
          }),
        );
      }
    }
    const before = new Map(this.rooms);
    await this.runBatch("room churn", ops);
    this.checkStableListings(log, before, new Map());
  }

  // Everything at once on a few rooms.
  private async mixed(log: BatchLog): Promise<void> {
    if (this.open().length === 0) await this.newRoom(this.rng.between(1, maxParticipantsLimit));
    const names = this.rng.shuffle(roomNames).slice(0, 2);
    const recent = [...this.rooms.values()].slice(-4);
    const completedBefore = new Set(recent.filter((r) => r.status !== "in-progress").map((r) => r.sid));
    const ref = () => (this.rng.chance(0.5) ? this.rng.pick(names) : this.rng.pick(recent).sid);
    const ops: BatchOp[] = [];
    const count = this.rng.between(5, 20);
    let completions = 0;
    for (let i = 0; i < count; i++) {
      const kind = this.rng.weighted([
        [35, "join"],
        [15, "kick"],
        [5, "anonymize"],
        [6, "complete"],
        [6, "create"],
        [10, "get"],
        [14, "list participants"],
        [9, "list rooms"],
      ] as const);
      const room = ref();
      const sid = canonical(room, roomSidForm);
      if (kind === "join") {
        // A join by name retries once into the next room of the name, so it
        // can meet a completed room only if two completions ran under it.
        const allowed = (): ErrorReason[] => (sid !== undefined ? (completedBefore.has(sid) ? ["room_completed"] : ["room_full", "room_completed"]) : completions > 1 ? ["room_full", "room_completed"] : ["room_full"]);
        ops.push(this.joinOp(log, room, this.rng.pick(identities), allowed));
      } else if (kind === "kick") ops.push(this.kickOp(log, room));
      else if (kind === "anonymize") ops.push(this.anonymizeOp(log, room));
      else if (kind === "complete") {
        completions++;
        ops.push(this.completeOp(log, room));
      } else if (kind === "create") ops.push(this.createOp(log, this.rng.pick(names)));
      else if (kind === "get") ops.push(this.getParticipantOp(log, room));
      else if (kind === "list participants") ops.push(this.listParticipantsOp(log, room));
      else ops.push(this.listRoomsOp(log));
    }
    const before = new Map(this.rooms);
    const participantsBefore = await this.snapshots(recent.map((r) => r.sid));
    await this.runBatch(`mixed on ${show(names)} and ${show(recent.map((r) => r.sid))}`, ops);
    this.checkStableListings(log, before, participantsBefore);
  }
}

// The pages of one listing: every page but the last full, and all of them in
// strictly ascending order of (time, sid), so nothing repeats.
function checkPages<R extends { sid: string }>(pages: R[][], sizes: number[], timeOf: (record: R) => number): R[] {
  pages.forEach((page, i) => {
    const size = sizes[i % sizes.length]!;
    if (i < pages.length - 1) check(page.length === size, () => `page ${i} of ${size} holds ${page.length}, with more to follow`);
    else check(page.length <= size, () => `last page ${i} of ${size} holds ${page.length}`);
  });
  const listed = pages.flat();
  expectStrictlyOrdered(listed, (a, b) => comparePositions(timeOf(a), a.sid, timeOf(b), b.sid), () => "pages");
  return listed;
}

// ---------------------------------------------------------------------------

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

  const backends: [string, () => Promise<Store>][] = [
    ["memory store", async () => new MemoryStore()],
    ["redis store", async () => RedisStore.connect(redis!.url, { commandTimeoutMs: 5000 })],
  ];

  for (const [name, open] of backends) {
    it(`serial steps match the model exactly (${name})`, async () => {
      const store = await open();
      opened.push(store);
      const run = new SerialRun(store, new Random(seed));
      await replayable(`serial model (${name})`, run.trace, async () => {
        for (let i = 0; i < steps; i++) await run.step(i);
        await run.sweep();
      });
      run.stats.print(`${name}, serial`);
    });

    it(`concurrent batches keep the invariants (${name})`, async () => {
      const store = await open();
      opened.push(store);
      const run = new ConcurrentRun(store, new Random(seed ^ 0x5bd1e995));
      await replayable(`concurrent batches (${name})`, run.trace, async () => {
        for (let i = 0; i < batches; i++) await run.batch(i);
      });
      run.stats.print(`${name}, concurrent`);
    });
  }
});
