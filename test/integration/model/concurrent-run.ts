import { expect } from "chai";
import type { ErrorReason } from "../../../src/domain/errors.js";
import { type JoinResult, ParticipantOperations } from "../../../src/operations/participants.js";
import { RoomOperations } from "../../../src/operations/rooms.js";
import type { ParticipantRecord, ParticipantStatus, RoomRecord, RoomStatus } from "../../../src/domain/records.js";
import type { Store } from "../../../src/store/store.js";
import { Random } from "../../support/random.js";
import { canonical, check, checkPages, inWindow, isPresent, show, type TimeWindow } from "./checks.js";
import { inspectAccount, inspectRoom, type RoomSnapshot } from "./inspect.js";
import { attempt, expectRefused, type Outcome, succeeded } from "./outcomes.js";
import { Stats } from "./replay.js";
import { identities, maxParticipantsLimit, participantSidForm, roomNames, roomSidForm, t0 } from "./settings.js";

// The concurrent part: random batches of operations run together; after each
// batch the store must hold the invariants, and outcomes fit some serial order.

export interface BatchOp {
  label: string;
  // Runs the operation; resolves to the check of its outcome, run once the whole batch has settled.
  run(): Promise<() => void>;
}

export interface ParticipantFilters extends TimeWindow {
  status?: ParticipantStatus | undefined;
  identity?: string | undefined;
}

export interface RoomFilters extends TimeWindow {
  status?: RoomStatus | undefined;
  uniqueName?: string | undefined;
}

// What a batch did, for the checks that follow it.
export class BatchLog {
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

export class ConcurrentRun {
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

  // The store's wall clock: it moves a millisecond every third reading, so
  // operations of a batch often share a start time.
  readonly now = () => this.base + Math.floor(this.calls++ / 3);

  constructor(
    private readonly store: Store,
    private readonly rng: Random,
  ) {
    this.roomOps = new RoomOperations(store, { maxParticipants: maxParticipantsLimit });
    this.participantOps = new ParticipantOperations(store, this.roomOps);
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
      expect(snapshot.all.map((p) => p.sid).sort(), `participants of ${sid} against the joins reported`).to.deep.equal(
        [...(this.joined.get(sid) ?? [])].sort(),
      );
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

  private joinOp(
    log: BatchLog,
    target: string,
    identity: string,
    allowed: () => ErrorReason[],
    done?: (outcome: Outcome<JoinResult>) => void,
  ): BatchOp {
    log.identities.add(identity);
    const sid = canonical(target, roomSidForm);
    if (sid !== undefined) log.rooms.add(sid);
    return this.op(
      "join",
      `${show(target)} as ${show(identity)}`,
      () => this.participantOps.join(this.account, target, identity),
      (outcome) => {
        done?.(outcome);
        if (!outcome.ok) return expectRefused(outcome, ...allowed());
        const { participant, displaced } = outcome.value;
        expect([participant.identity, participant.status, participant.accountSid, participant.endTime]).to.deep.equal([
          identity,
          "connected",
          this.account,
          undefined,
        ]);
        expect(participant.startTime).to.be.at.least(this.base);
        if (sid !== undefined) expect(participant.roomSid).to.equal(sid);
        if (displaced !== undefined) {
          expect([displaced.identity, displaced.status, displaced.roomSid]).to.deep.equal([identity, "disconnected", participant.roomSid]);
          expect(displaced.endTime).to.be.at.least(displaced.startTime);
        }
        this.register(participant);
        log.rooms.add(participant.roomSid);
      },
    );
  }

  private participantRef(room: string): string {
    const sid =
      canonical(room, roomSidForm) ?? [...this.rooms.values()].find((r) => r.status === "in-progress" && r.uniqueName === room)?.sid;
    const known = [...(this.joined.get(sid ?? "") ?? [])];
    return known.length > 0 && this.rng.chance(0.5) ? this.rng.pick(known.slice(-10)) : this.rng.pick(identities);
  }

  private kickOp(log: BatchLog, room: string): BatchOp {
    const ref = this.participantRef(room);
    const bySid = participantSidForm.test(ref);
    if (bySid) log.participantSids.add(ref);
    else log.identities.add(ref);
    // An ad-hoc room ends with its last participant: a kick may complete it.
    log.completionRefs.add(canonical(room, roomSidForm) ?? room);
    return this.op(
      "kick",
      `${show(ref)} in ${show(room)}`,
      () => this.participantOps.update(this.account, room, ref, "disconnected"),
      (outcome) => {
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
      },
    );
  }

  private anonymizeOp(log: BatchLog, room: string): BatchOp {
    const ref = this.participantRef(room);
    const bySid = participantSidForm.test(ref);
    if (bySid) log.participantSids.add(ref);
    else log.identities.add(ref);
    return this.op(
      "anonymize",
      `${show(ref)} in ${show(room)}`,
      () => this.participantOps.anonymize(this.account, room, ref),
      (outcome) => {
        if (!outcome.ok) return expectRefused(outcome, ...this.missing(room));
        const p = outcome.value;
        expect(p.identity).to.equal(p.sid);
        if (bySid) expect(p.sid).to.equal(ref);
        log.anonymized.push(p.sid);
        log.rooms.add(p.roomSid);
      },
    );
  }

  private getParticipantOp(log: BatchLog, room: string, ref = this.participantRef(room)): BatchOp {
    const bySid = participantSidForm.test(ref);
    return this.op(
      "get participant",
      `${show(ref)} in ${show(room)}`,
      () => this.participantOps.get(this.account, room, ref),
      (outcome) => {
        if (!outcome.ok) return expectRefused(outcome, ...this.missing(room));
        const p = outcome.value;
        if (bySid) expect(p.sid).to.equal(ref);
        else expect([p.identity, isPresent(p)], "the present participant of an identity").to.deep.equal([ref, true]);
        log.rooms.add(p.roomSid);
      },
    );
  }

  private completeOp(log: BatchLog, room: string): BatchOp {
    log.completionRefs.add(canonical(room, roomSidForm) ?? room);
    return this.op(
      "complete",
      show(room),
      () => this.roomOps.update(this.account, room, "completed"),
      (outcome) => {
        if (!outcome.ok) return expectRefused(outcome, ...this.missing(room));
        const r = outcome.value;
        expect(r.status).to.equal("completed");
        expect(r.endTime).to.be.at.least(r.dateCreated);
        expect(canonical(room, roomSidForm) !== undefined ? r.sid : r.uniqueName).to.equal(canonical(room, roomSidForm) ?? room);
        log.completed.push(r.sid);
        log.rooms.add(r.sid);
      },
    );
  }

  private createOp(log: BatchLog, name: string | undefined): BatchOp {
    const maxParticipants = this.rng.between(1, maxParticipantsLimit);
    return this.op(
      "create",
      `${show(name)} max ${maxParticipants}`,
      () => this.roomOps.create(this.account, { uniqueName: name, maxParticipants }),
      (outcome) => {
        if (!outcome.ok) return expectRefused(outcome, "room_exists");
        const r = outcome.value;
        expect([r.uniqueName, r.status, r.maxParticipants]).to.deep.equal([name ?? r.sid, "in-progress", maxParticipants]);
        log.rooms.add(r.sid);
      },
    );
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
      `of ${show(room)} ${show(filters)} pages ${sizes.join(",")}`,
      async () => {
        const pages: ParticipantRecord[][] = [];
        let pageToken: string | undefined;
        do {
          const page = await this.participantOps.list(this.account, {
            room,
            ...filters,
            pageSize: sizes[pages.length % sizes.length],
            pageToken,
          });
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
            p.status === status &&
              (roomSid === undefined || p.roomSid === roomSid) &&
              (filters.identity === undefined || p.identity === filters.identity) &&
              inWindow(p.startTime, filters),
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
      `${show(filters)} pages ${sizes.join(",")}`,
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
            r.status === (filters.status ?? "in-progress") &&
              (filters.uniqueName === undefined || r.uniqueName === filters.uniqueName) &&
              inWindow(r.dateCreated, filters),
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
        if (
          !stable ||
          room.status !== status ||
          (filters.uniqueName !== undefined && room.uniqueName !== filters.uniqueName) ||
          !inWindow(room.dateCreated, filters)
        )
          continue;
        expect(
          sids.has(room.sid),
          `${status} room ${room.sid} (${show(room.uniqueName)}), untouched by the batch, missing from rooms listed with ${show(filters)}: ${show([...sids])}`,
        ).to.equal(true);
      }
    }
    for (const { room, filters, listed } of log.participantWalks) {
      const snapshot = participantsBefore.get(canonical(room, roomSidForm) ?? "");
      if (snapshot === undefined || log.completionMayTarget(snapshot.room) || snapshot.room.status !== "in-progress") continue;
      const status = filters.status ?? "connected";
      const sids = new Set(listed.map((p) => p.sid));
      for (const p of snapshot.all) {
        const stable = !log.participantSids.has(p.sid) && (p.status === "disconnected" || !log.identities.has(p.identity));
        if (
          !stable ||
          p.status !== status ||
          (filters.identity !== undefined && p.identity !== filters.identity) ||
          !inWindow(p.startTime, filters)
        )
          continue;
        expect(
          sids.has(p.sid),
          `${status} participant ${p.sid} (${show(p.identity)}), untouched by the batch, missing from ${show(room)} listed with ${show(filters)}`,
        ).to.equal(true);
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
      target = (
        open.length === 0 || this.rng.chance(0.3)
          ? await this.newRoom(this.rng.between(1, maxParticipantsLimit))
          : this.rng.pick(open.slice(-4))
      ).sid;
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
      if (kind === "join")
        ops.push(
          this.joinOp(
            log,
            target,
            identity,
            () => ["room_full"],
            (outcome) => joins.push({ identity, outcome }),
          ),
        );
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
    const expectedIdentities = new Set([
      ...priorPresent.map((p) => p.identity),
      ...joins.filter((j) => j.outcome.ok).map((j) => j.identity),
    ]);
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
      else if (kind === "complete")
        ops.push(this.completeOp(log, this.rng.chance(0.7) ? this.rng.pick(open).sid : this.rng.pick(roomNames)));
      else if (kind === "create") ops.push(this.createOp(log, this.rng.chance(0.5) ? this.rng.pick(roomNames) : undefined));
      else {
        const ref = this.rng.chance(0.5) ? this.rng.pick([...this.rooms.keys()]) : this.rng.pick(roomNames);
        ops.push(
          this.op(
            "get room",
            show(ref),
            () => this.roomOps.get(this.account, ref),
            (outcome) => {
              if (!outcome.ok) return expectRefused(outcome, ...this.missing(ref).filter((r) => r === "room_not_found"));
              const r = outcome.value;
              if (canonical(ref, roomSidForm) !== undefined) expect(r.sid).to.equal(ref);
              else expect([r.uniqueName, r.status]).to.deep.equal([ref, "in-progress"]);
            },
          ),
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
        const allowed = (): ErrorReason[] =>
          sid !== undefined
            ? completedBefore.has(sid)
              ? ["room_completed"]
              : ["room_full", "room_completed"]
            : completions > 1
              ? ["room_full", "room_completed"]
              : ["room_full"];
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
