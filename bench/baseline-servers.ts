import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { Redis } from "ioredis";
import http from "node:http";
import http2 from "node:http2";
import {
  ParticipantSchema,
  ParticipantService,
  ParticipantServiceGetRequestSchema,
  ParticipantServiceGetResponseSchema,
  ParticipantStatus,
  type ParticipantServiceGetRequest,
} from "../gen/rollcall/v1/participant_pb.js";
import { roomKeys } from "../src/store/redis/keys.js";

// What a user could run instead of rollcall: servers whose one handler reads
// a participant with a single HGETALL and answers with a message of the same
// size, and nothing else (no authentication, no validation, no routing).
// Usage: node --import tsx bench/baseline-servers.ts grpc|connect|http PORT REDIS_URL ACCOUNT_SID

const args = process.argv.slice(2);
if (args.length < 4) throw new Error("usage: node --import tsx bench/baseline-servers.ts grpc|connect|http PORT REDIS_URL ACCOUNT_SID");
const [kind, portText, redisUrl, accountSid] = args as [string, string, string, string];
const port = Number(portText);
const redis = new Redis(redisUrl, { enableAutoPipelining: true });

async function participant(room: string, sid: string): Promise<Record<string, string>> {
  const fields = await redis.hgetall(roomKeys(accountSid, room).participant(sid));
  return { sid, room, ...fields };
}

async function getResponse(req: ParticipantServiceGetRequest) {
  const p = await participant(req.room, req.participant);
  const start = Number(p.start_time);
  return create(ParticipantServiceGetResponseSchema, {
    participant: create(ParticipantSchema, {
      sid: p.sid,
      roomSid: p.room,
      accountSid: p.account_sid,
      status: p.status === "connected" ? ParticipantStatus.CONNECTED : ParticipantStatus.DISCONNECTED,
      identity: p.identity,
      dateCreated: timestampFromMs(start),
      dateUpdated: timestampFromMs(Number(p.date_updated)),
      startTime: timestampFromMs(start),
    }),
  });
}

function twilioDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

switch (kind) {
  case "grpc": {
    const server = new grpc.Server();
    server.addService(
      {
        get: {
          path: "/rollcall.v1.ParticipantService/Get",
          requestStream: false,
          responseStream: false,
          requestDeserialize: (bytes: Buffer) => fromBinary(ParticipantServiceGetRequestSchema, bytes),
          requestSerialize: (message: ParticipantServiceGetRequest) => Buffer.from(toBinary(ParticipantServiceGetRequestSchema, message)),
          responseSerialize: (message: Parameters<typeof toBinary<typeof ParticipantServiceGetResponseSchema>>[1]) =>
            Buffer.from(toBinary(ParticipantServiceGetResponseSchema, message)),
          responseDeserialize: (bytes: Buffer) => fromBinary(ParticipantServiceGetResponseSchema, bytes),
        },
      },
      {
        get: (call: grpc.ServerUnaryCall<ParticipantServiceGetRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          getResponse(call.request).then(
            (response) => callback(null, response),
            (error: Error) => callback(error),
          );
        },
      },
    );
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
      if (error) throw error;
      console.log("ready");
    });
    break;
  }
  case "connect": {
    const handler = connectNodeAdapter({ routes: (router) => router.service(ParticipantService, { get: getResponse }) });
    http2.createServer(handler).listen(port, "127.0.0.1", () => console.log("ready"));
    break;
  }
  case "http": {
    http
      .createServer((req, res) => {
        const [, , , room, , sid] = (req.url ?? "").split("/");
        if (room === undefined || sid === undefined) {
          res.writeHead(404).end();
          return;
        }
        participant(room, sid)
          .then((p) => {
            const url = `http://${req.headers.host}/v1/Rooms/${p.room}/Participants/${p.sid}`;
            const body = JSON.stringify({
              sid: p.sid,
              room_sid: p.room,
              account_sid: p.account_sid,
              status: p.status,
              identity: p.identity,
              date_created: twilioDate(Number(p.start_time)),
              date_updated: twilioDate(Number(p.date_updated)),
              start_time: twilioDate(Number(p.start_time)),
              end_time: null,
              duration: null,
              url,
              links: {
                published_tracks: `${url}/PublishedTracks`,
                subscribed_tracks: `${url}/SubscribedTracks`,
                subscribe_rules: `${url}/SubscribeRules`,
                anonymize: `${url}/Anonymize`,
              },
            });
            res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
            res.end(body);
          })
          .catch((error: unknown) => {
            res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
            res.end(String(error));
          });
      })
      .listen(port, "127.0.0.1", () => console.log("ready"));
    break;
  }
  default:
    throw new Error(`unknown baseline ${kind}`);
}
