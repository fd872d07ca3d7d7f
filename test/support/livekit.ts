import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { AccessToken, ParticipantInfo_State, TokenVerifier, WebhookEvent, type WebhookEventNames } from "livekit-server-sdk";

// LiveKit as the bridge meets it, without a LiveKit server (none can be
// installed here): webhooks signed exactly as LiveKit's server signs them,
// and a stand-in for LiveKit's RoomService. The stand-in follows LiveKit's
// Twirp RoomService as @livekit/protocol 1.51 defines it (the version
// livekit-server-sdk 2.19.2 speaks): POST /twirp/livekit.RoomService/<Method>,
// protobuf-JSON bodies, a bearer token whose video grant it checks.

export const liveKitKey = "APIrollcallTest";
export const liveKitSecret = "a-livekit-secret-of-at-least-32-characters";

export interface SignOptions {
  key?: string;
  secret?: string;
  // The token's lifetime ("5m"; "-60s" for one already expired).
  ttl?: string;
  // The body the sha256 claim is computed over, if not the one sent.
  signedBody?: string;
}

// A webhook request: LiveKit's server signs each with an AccessToken whose
// only grant is sha256 (base64 of the body's SHA-256), issuer the API key,
// HS256 with the secret, and sends it as the Authorization header.
export async function signWebhook(body: string, options: SignOptions = {}): Promise<{ body: string; authorization: string }> {
  const token = new AccessToken(options.key ?? liveKitKey, options.secret ?? liveKitSecret, { ttl: options.ttl ?? "5m" });
  token.sha256 = createHash("sha256")
    .update(options.signedBody ?? body)
    .digest("base64");
  return { body, authorization: await token.toJwt() };
}

export interface LiveKitRoom {
  sid: string;
  name: string;
}

export interface LiveKitParticipant {
  sid: string;
  identity: string;
}

export function liveKitSid(prefix: "RM_" | "PA_" | "EV_"): string {
  return prefix + randomBytes(6).toString("hex");
}

// A webhook event as LiveKit's server writes it (protobuf JSON).
export function webhookJson(event: WebhookEventNames, room: LiveKitRoom, participant?: LiveKitParticipant, id = liveKitSid("EV_")): string {
  const made = new WebhookEvent({
    id,
    createdAt: BigInt(Math.floor(Date.now() / 1000)),
    room: { sid: room.sid, name: room.name },
    participant:
      participant === undefined ? undefined : { sid: participant.sid, identity: participant.identity, state: ParticipantInfo_State.ACTIVE },
  });
  // The SDK's WebhookEvent sets `event` after its constructor's fields.
  made.event = event;
  return made.toJsonString();
}

export async function postWebhook(
  baseUrl: string,
  body: string,
  authorization: string | undefined,
  contentType = "application/webhook+json",
) {
  const headers: Record<string, string> = { "content-type": contentType };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(`${baseUrl}/livekit/webhook`, { method: "POST", headers, body });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as { status?: string; error?: string } };
}

// Sends a signed webhook and returns its answer.
export async function sendWebhook(
  baseUrl: string,
  event: WebhookEventNames,
  room: LiveKitRoom,
  participant?: LiveKitParticipant,
  id?: string,
) {
  const signed = await signWebhook(webhookJson(event, room, participant, id));
  return postWebhook(baseUrl, signed.body, signed.authorization);
}

export interface TwirpCall {
  method: string;
  body: Record<string, unknown>;
}

// The stand-in for LiveKit's RoomService: rooms and participants the test
// sets, the calls received (only those whose token and grant passed).
export class FakeLiveKit {
  readonly rooms = new Map<string, { sid: string; name: string; participants: Map<string, LiveKitParticipant> }>();
  readonly calls: TwirpCall[] = [];
  readonly refused: string[] = [];
  // While down, every connection is dropped before an answer.
  down = false;
  private readonly server = http.createServer((req, res) => void this.serve(req, res));
  private readonly verifier = new TokenVerifier(liveKitKey, liveKitSecret);
  url = "";

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  room(room: LiveKitRoom) {
    let held = this.rooms.get(room.name);
    if (held === undefined) this.rooms.set(room.name, (held = { ...room, participants: new Map() }));
    return held;
  }

  callsOf(method: string): Record<string, unknown>[] {
    return this.calls.filter((call) => call.method === method).map((call) => call.body);
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.down) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = /^\/twirp\/livekit\.RoomService\/(\w+)$/.exec(req.url ?? "")?.[1];
    const twirpError = (status: number, code: string, msg: string): void => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ code, msg }));
    };
    if (req.method !== "POST" || method === undefined) return twirpError(404, "bad_route", "no such method");
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return twirpError(400, "malformed", "body is not JSON");
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    let video: Record<string, unknown>;
    try {
      if (bearer === undefined) throw new Error("no token");
      video = ((await this.verifier.verify(bearer)) as { video?: Record<string, unknown> }).video ?? {};
    } catch {
      this.refused.push(method);
      return twirpError(401, "unauthenticated", "invalid token");
    }
    const roomName = typeof body.room === "string" ? body.room : "";
    const allowed =
      method === "ListRooms"
        ? video.roomList === true
        : method === "DeleteRoom"
          ? video.roomCreate === true
          : video.roomAdmin === true && video.room === roomName;
    if (!allowed) {
      this.refused.push(method);
      return twirpError(403, "permission_denied", "the token's grant does not allow this");
    }
    this.calls.push({ method, body });
    const ok = (answer: object): void => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    };
    const room = this.rooms.get(roomName);
    switch (method) {
      case "ListRooms":
        return ok({ rooms: [...this.rooms.values()].map(({ sid, name }) => ({ sid, name, numParticipants: 0 })) });
      case "ListParticipants":
        if (room === undefined) return twirpError(404, "not_found", "room not found");
        return ok({ participants: [...room.participants.values()].map(({ sid, identity }) => ({ sid, identity, state: "ACTIVE" })) });
      case "RemoveParticipant": {
        const identity = typeof body.identity === "string" ? body.identity : "";
        if (room === undefined || !room.participants.has(identity)) return twirpError(404, "not_found", "participant not found");
        room.participants.delete(identity);
        return ok({});
      }
      case "DeleteRoom":
        if (room === undefined) return twirpError(404, "not_found", "room not found");
        this.rooms.delete(roomName);
        return ok({});
      default:
        return twirpError(501, "unimplemented", `${method} is not part of the stand-in`);
    }
  }
}
