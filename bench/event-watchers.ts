import { createClient, type Interceptor } from "@connectrpc/connect";
import { setMaxListeners } from "node:events";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EventService, type Event } from "../gen/rollcall/v1/event_pb.js";

// A process of Watch streams for bench/events.ts, which forks it (over IPC)
// so that the watchers' CPU is not the process that makes the changes. It
// opens `count` Watch streams (Connect, binary, HTTP/2, `perConnection`
// streams per connection) of one room or of an account, records for each
// event each watcher receives when it arrived, and on `finish` waits until
// every watcher has every expected event (or the drain time is up), then
// answers with the latency histograms and what was lost.

export type WatcherCommand =
  | { type: "open"; baseUrl: string; authorization: string; room: string; count: number; perConnection: number }
  | { type: "cpu" }
  | { type: "finish"; expected: [key: string, sentAt: number][]; drainMs: number };

export type WatcherReply =
  | { type: "opened"; ms: number }
  | { type: "cpu"; cpuMs: number; at: number }
  | { type: "result"; result: WatcherResult }
  | { type: "error"; message: string };

export interface WatcherResult {
  watchers: number;
  // Latency (ms) of every received expected event, as [ms, count] pairs:
  // against the event's own time, and against the send time of the RPC that caused it.
  sinceEvent: [number, number][];
  sinceSend: [number, number][];
  received: number;
  lost: number;
  // Events received twice by one watcher, and room sequences that skipped or went back.
  duplicates: number;
  outOfOrder: number;
  // Received events that the driver did not cause (none expected).
  unexpected: number;
  // When the last expected event reached its last watcher (Date.now()).
  lastArrival: number;
  // Times a stream failed (and was resumed from its last cursor) before finish.
  resumedStreams: number;
  failures: string[];
  cpuMs: number;
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

// One watcher's arrivals, by event index (see Watchers.indexOf): the arrival
// time minus the base, plus one (0: not received).
class Arrivals {
  times = new Int32Array(1024);
  count = 0;
  duplicates = 0;
  outOfOrder = 0;
  lastSequence = new Map<string, number>();

  record(index: number, at: number): void {
    if (index >= this.times.length) {
      let size = this.times.length;
      while (size <= index) size *= 2;
      const grown = new Int32Array(size);
      grown.set(this.times);
      this.times = grown;
    }
    if (this.times[index] !== 0) {
      this.duplicates++;
      return;
    }
    this.times[index] = at + 1;
    this.count++;
  }

  follow(roomSid: string, sequence: number): void {
    const last = this.lastSequence.get(roomSid);
    if (last !== undefined && sequence !== last + 1) this.outOfOrder++;
    this.lastSequence.set(roomSid, sequence);
  }
}

class Watchers {
  private readonly base = Date.now();
  private readonly arrivals: Arrivals[] = [];
  // Events by "<room sid>:<sequence>", and what caused each: "<type>:<identity>".
  private readonly indexes = new Map<string, number>();
  private readonly causes: string[] = [];
  private readonly sinceEvent = new Map<number, number>();
  private readonly abort = new AbortController();
  private resumedStreams = 0;
  private readonly failures: string[] = [];
  private readonly startCpu = cpuMs();

  async open(command: Extract<WatcherCommand, { type: "open" }>): Promise<number> {
    const started = Date.now();
    // Every stream listens to it.
    setMaxListeners(command.count + 10, this.abort.signal);
    const authorizing: Interceptor = (next) => (req) => {
      req.header.set("authorization", command.authorization);
      return next(req);
    };
    const clients = Array.from({ length: Math.ceil(command.count / command.perConnection) }, () =>
      createClient(
        EventService,
        createConnectTransport({ baseUrl: command.baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors: [authorizing] }),
      ),
    );
    const opened: Promise<void>[] = [];
    for (let i = 0; i < command.count; i++) {
      const arrivals = new Arrivals();
      this.arrivals.push(arrivals);
      opened.push(this.watch(clients[Math.floor(i / command.perConnection)]!, command.room, arrivals));
    }
    await Promise.all(opened);
    return Date.now() - started;
  }

  // Resolves once the stream's first message (its start position) is in.
  // A stream that fails later is resumed from the last cursor it received,
  // as a client is told to (event.proto), and counted.
  private watch(client: ReturnType<typeof createClient<typeof EventService>>, room: string, arrivals: Arrivals): Promise<void> {
    return new Promise((resolve, reject) => {
      let cursor = "";
      void (async () => {
        while (!this.abort.signal.aborted) {
          try {
            for await (const message of client.watch({ room, after: cursor }, { signal: this.abort.signal })) {
              const at = Date.now();
              if (cursor === "") resolve();
              for (const event of message.events) this.arrive(event, at, arrivals);
              cursor = message.cursor;
            }
            if (!this.abort.signal.aborted) throw new Error("the stream ended");
          } catch (error) {
            if (this.abort.signal.aborted) return;
            this.resumedStreams++;
            if (this.failures.length < 5) this.failures.push(String(error));
            if (cursor === "") return reject(error instanceof Error ? error : new Error(String(error)));
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      })();
    });
  }

  private arrive(event: Event, at: number, arrivals: Arrivals): void {
    const time = event.time === undefined ? NaN : Number(event.time.seconds) * 1000 + Math.floor(event.time.nanos / 1e6);
    const latency = Math.max(0, at - time);
    this.sinceEvent.set(latency, (this.sinceEvent.get(latency) ?? 0) + 1);
    const sequence = Number(event.sequence);
    const name = `${event.roomSid}:${sequence}`;
    let index = this.indexes.get(name);
    if (index === undefined) {
      index = this.causes.length;
      this.indexes.set(name, index);
      this.causes.push(`${event.type}:${event.participant?.identity ?? ""}`);
    }
    arrivals.follow(event.roomSid, sequence);
    arrivals.record(index, at - this.base);
  }

  cpu(): number {
    return cpuMs() - this.startCpu;
  }

  async finish(expected: [string, number][], drainMs: number): Promise<WatcherResult> {
    const deadline = Date.now() + drainMs;
    while (Date.now() < deadline && this.arrivals.some((a) => a.count < expected.length))
      await new Promise((resolve) => setTimeout(resolve, 20));
    this.abort.abort();
    const byCause = new Map<string, number>();
    this.causes.forEach((cause, index) => byCause.set(cause, index));
    const expectedIndexes = expected.map(([key, sentAt]) => ({ index: byCause.get(key), sentAt }));
    const sinceSend = new Map<number, number>();
    let received = 0;
    let lost = 0;
    let lastArrival = 0;
    for (const arrivals of this.arrivals) {
      for (const { index, sentAt } of expectedIndexes) {
        const stored = index === undefined ? 0 : (arrivals.times[index] ?? 0);
        if (stored === 0) {
          lost++;
          continue;
        }
        received++;
        const at = this.base + stored - 1;
        lastArrival = Math.max(lastArrival, at);
        const latency = Math.max(0, at - sentAt);
        sinceSend.set(latency, (sinceSend.get(latency) ?? 0) + 1);
      }
    }
    const total = this.arrivals.reduce((sum, a) => sum + a.count, 0);
    return {
      watchers: this.arrivals.length,
      sinceEvent: [...this.sinceEvent],
      sinceSend: [...sinceSend],
      received,
      lost,
      duplicates: this.arrivals.reduce((sum, a) => sum + a.duplicates, 0),
      outOfOrder: this.arrivals.reduce((sum, a) => sum + a.outOfOrder, 0),
      unexpected: total - received,
      lastArrival,
      resumedStreams: this.resumedStreams,
      failures: this.failures,
      cpuMs: this.cpu(),
    };
  }
}

const send = (reply: WatcherReply) => process.send!(reply);
let watchers: Watchers | undefined;

process.on("message", (command: WatcherCommand) => {
  void (async () => {
    try {
      switch (command.type) {
        case "open":
          watchers = new Watchers();
          send({ type: "opened", ms: await watchers.open(command) });
          break;
        case "cpu":
          send({ type: "cpu", cpuMs: watchers!.cpu(), at: Date.now() });
          break;
        case "finish":
          // The parent stops this process once it has the result.
          send({ type: "result", result: await watchers!.finish(command.expected, command.drainMs) });
          break;
      }
    } catch (error) {
      send({ type: "error", message: error instanceof Error ? error.message : String(error) });
    }
  })();
});
// Ends with its parent.
process.on("disconnect", () => process.exit(0));
