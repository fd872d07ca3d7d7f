import type http from "node:http";
import type http2 from "node:http2";
import { TokenVerifier, WebhookReceiver } from "livekit-server-sdk";
import { RollcallError, StoreUnavailableError } from "../domain/errors.js";
import type { Store } from "../store/store.js";
import type { LiveKitMirror, LiveKitParticipantRef, LiveKitRoomRef, MappingOutcome } from "./webhook-mapping.js";
import type { Logger } from "../observability/logger.js";
import { liveKitFailures } from "../observability/metrics.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export const liveKitWebhookPath = "/livekit/webhook";

export function isLiveKitWebhookPath(url: string | undefined): boolean {
  return url !== undefined && (url === liveKitWebhookPath || url.startsWith(liveKitWebhookPath + "?"));
}

export interface IngestOptions {
  apiKey: string;
  apiSecret: string;
  maxRequestBytes: number;
  log: Logger;
}

export interface IngestStats {
  received: number;
  applied: number;
  ignored: number;
  duplicates: number;
  refused: number;
}

// LiveKit's tokens may be this far off our clock (the SDK's default).
const clockToleranceS = 10;
// A webhook id is applied once within this time; LiveKit retries for far less.
const webhookIdTtlMs = 24 * 3_600_000;
// LiveKit's sids: RM_…, PA_… (letters, digits, _ and -).
const liveKitSid = /^[A-Za-z0-9_-]{1,128}$/;

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// POST /livekit/webhook: LiveKit's webhooks, verified with the SDK's
// WebhookReceiver (a JWT in Authorization, HS256 with the API secret, the
// API key as issuer, the body's SHA-256 in its sha256 claim). A token is
// accepted once (a replayed request is refused like a forged one), a
// webhook id applied once (LiveKit's repeat of an event is answered 200 and
// changes nothing). What is refused changes nothing.
export class WebhookIngest {
  readonly stats: IngestStats = { received: 0, applied: 0, ignored: 0, duplicates: 0, refused: 0 };
  private readonly receiver: WebhookReceiver;
  private readonly verifier: TokenVerifier;

  constructor(
    private readonly store: Store,
    private readonly mirror: LiveKitMirror,
    private readonly options: IngestOptions,
  ) {
    this.receiver = new WebhookReceiver(options.apiKey, options.apiSecret);
    this.verifier = new TokenVerifier(options.apiKey, options.apiSecret);
  }

  handle(req: Request, res: Response): void {
    this.stats.received++;
    this.ingest(req).then(
      (outcome) => reply(res, 200, { status: outcome }),
      (error: unknown) => {
        if (error instanceof Refusal) {
          this.stats.refused++;
          return reply(res, error.status, { error: error.message }, error.status === 413 ? { connection: "close" } : {});
        }
        if (error instanceof StoreUnavailableError) return reply(res, 503, { error: error.callerMessage }, { "retry-after": "1" });
        liveKitFailures.labels("webhook").inc();
        this.options.log.error({ err: error }, "webhook failed");
        return reply(res, 500, { error: "internal error" });
      },
    );
  }

  private async ingest(req: Request): Promise<MappingOutcome | "duplicate"> {
    if (req.method !== "POST") throw new Refusal(405, "use POST");
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/webhook+json" && type !== "application/json")
      throw new Refusal(415, "Content-Type must be application/webhook+json");
    const body = await readBody(req, this.options.maxRequestBytes);
    const authorization = req.headers.authorization;
    if (typeof authorization !== "string" || authorization === "") throw new Refusal(401, "no Authorization token");
    let expiresAt: number;
    try {
      const claims = await this.verifier.verify(authorization, clockToleranceS);
      expiresAt = Number(claims.exp) * 1000;
    } catch {
      throw new Refusal(401, "the Authorization token is not valid for this API key and secret");
    }
    let event: Awaited<ReturnType<WebhookReceiver["receive"]>>;
    try {
      event = await this.receiver.receive(body, authorization, false, clockToleranceS);
    } catch (error) {
      if (error instanceof Error && /sha256|authoriz/i.test(error.message))
        throw new Refusal(401, "the body does not match the token's sha256");
      throw new Refusal(400, "the body is not a LiveKit webhook event (JSON)");
    }
    const accountSid = this.mirror.accountSid;
    const tokenKey = `token:${authorization}`;
    if (!(await this.store.claimLiveKitOnce(accountSid, tokenKey, Math.max(1000, expiresAt - Date.now() + clockToleranceS * 1000)))) {
      throw new Refusal(401, "this token was used already (a replayed request)");
    }
    const applied = await this.applyOnce(event).catch(async (error: unknown) => {
      // Not applied: LiveKit's retry (or a new token) may try again.
      if (!(error instanceof Refusal)) await this.store.releaseLiveKitOnce(accountSid, tokenKey).catch(() => undefined);
      throw error;
    });
    return applied;
  }

  private async applyOnce(event: Awaited<ReturnType<WebhookReceiver["receive"]>>): Promise<MappingOutcome | "duplicate"> {
    if (event.id === "" || event.id.length > 256) throw new Refusal(400, "the event has no id");
    const accountSid = this.mirror.accountSid;
    const kind = event.event;
    const handled = ["room_started", "room_finished", "participant_joined", "participant_left", "participant_connection_aborted"];
    if (!handled.includes(kind)) {
      this.stats.ignored++;
      return "ignored";
    }
    const room = roomOf(event.room);
    const participant = kind.startsWith("participant_") ? participantOf(event.participant) : undefined;
    const idKey = `webhook:${event.id}`;
    if (!(await this.store.claimLiveKitOnce(accountSid, idKey, webhookIdTtlMs))) {
      this.stats.duplicates++;
      return "duplicate";
    }
    try {
      const outcome = await this.mirror.serialized(room.sid, () => {
        switch (kind) {
          case "room_started":
            return this.mirror.roomStarted(room).then((sid): MappingOutcome => (sid === undefined ? "ignored" : "applied"));
          case "room_finished":
            return this.mirror.roomFinished(room);
          case "participant_joined":
            return this.mirror.participantJoined(room, participant!);
          default:
            return this.mirror.participantLeft(room, participant!);
        }
      });
      this.stats[outcome]++;
      return outcome;
    } catch (error) {
      if (error instanceof RollcallError && error.kind !== "not_found") {
        // LiveKit's name or identity breaks rollcall's rules (or the room is
        // full): a retry would not change that.
        liveKitFailures.labels("webhook").inc();
        this.options.log.warn(`${kind} ${event.id} of room ${room.sid} not mirrored: ${error.message}`);
        this.stats.ignored++;
        return "ignored";
      }
      await this.store.releaseLiveKitOnce(accountSid, idKey).catch(() => undefined);
      throw error;
    }
  }
}

function roomOf(room: { sid: string; name: string } | undefined): LiveKitRoomRef {
  if (room === undefined || !liveKitSid.test(room.sid) || room.name === "")
    throw new Refusal(400, "the event's room must have a sid and a name");
  return { sid: room.sid, name: room.name };
}

function participantOf(participant: { sid: string; identity: string } | undefined): LiveKitParticipantRef {
  if (participant === undefined || !liveKitSid.test(participant.sid) || participant.identity === "") {
    throw new Refusal(400, "the event's participant must have a sid and an identity");
  }
  return { sid: participant.sid, identity: participant.identity };
}

async function readBody(req: Request, maxBytes: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) throw new Refusal(413, `the body is larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw new Refusal(413, `the body is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof Refusal) throw error;
    throw new Refusal(400, "the body ended early or was malformed");
  }
  return Buffer.concat(chunks).toString("utf8");
}

function reply(res: Response, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  (res as http.ServerResponse).writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}
