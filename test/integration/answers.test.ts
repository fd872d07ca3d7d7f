import { create, toBinary } from "@bufbuild/protobuf";
import { expect } from "chai";
import { gzipSync } from "node:zlib";
import { ParticipantServiceGetRequestSchema, ParticipantServiceListRequestSchema } from "../../gen/rollcall/v1/participant_pb.js";
import { replyOf } from "./fuzz/replies.js";
import type { Protocol } from "./fuzz/case.js";
import { startRollcall, testAuthorization } from "../support/rollcall.js";
import { frame } from "../support/wire/envelopes.js";
import type { Outcome, WireRequest } from "../support/wire/exchange.js";
import { http1 } from "../support/wire/http1.js";
import { http2Request } from "../support/wire/http2.js";

// What the main port answers to bytes that are no message of the method's
// input type, to a message flagged compressed without an encoding, and to a
// content type no protocol takes: the caller's errors, over every protocol
// and both HTTP versions, never internal.
describe("answers to undecodable requests and unknown content types on the main port", () => {
  let server: Awaited<ReturnType<typeof startRollcall>>;
  before(async () => {
    server = await startRollcall();
  });
  after(async () => server.close());

  const undecodable = Buffer.from([0xff, 0xff, 0xff]);
  // A message each method decodes, naming a room that does not exist.
  const validRequest = (method: string) =>
    Buffer.from(
      method === "Get"
        ? toBinary(
            ParticipantServiceGetRequestSchema,
            create(ParticipantServiceGetRequestSchema, { room: "no-such-room", participant: "alice" }),
          )
        : toBinary(ParticipantServiceListRequestSchema, create(ParticipantServiceListRequestSchema, { room: "no-such-room" })),
    );

  interface Transport {
    name: string;
    protocol: Protocol;
    http: 1 | 2;
    contentType: string;
    method: string;
    enveloped: boolean;
    encodingHeader: string;
  }
  const transports: Transport[] = [
    {
      name: "Connect unary over HTTP/1.1",
      protocol: "connect",
      http: 1,
      contentType: "application/proto",
      method: "Get",
      enveloped: false,
      encodingHeader: "content-encoding",
    },
    {
      name: "Connect unary over HTTP/2",
      protocol: "connect",
      http: 2,
      contentType: "application/proto",
      method: "Get",
      enveloped: false,
      encodingHeader: "content-encoding",
    },
    {
      name: "Connect streaming over HTTP/1.1",
      protocol: "connect-stream",
      http: 1,
      contentType: "application/connect+proto",
      method: "List",
      enveloped: true,
      encodingHeader: "connect-content-encoding",
    },
    {
      name: "Connect streaming over HTTP/2",
      protocol: "connect-stream",
      http: 2,
      contentType: "application/connect+proto",
      method: "List",
      enveloped: true,
      encodingHeader: "connect-content-encoding",
    },
    {
      name: "gRPC-Web over HTTP/1.1",
      protocol: "grpc-web",
      http: 1,
      contentType: "application/grpc-web+proto",
      method: "Get",
      enveloped: true,
      encodingHeader: "grpc-encoding",
    },
    {
      name: "gRPC-Web over HTTP/2",
      protocol: "grpc-web",
      http: 2,
      contentType: "application/grpc-web",
      method: "Get",
      enveloped: true,
      encodingHeader: "grpc-encoding",
    },
    {
      name: "gRPC unary",
      protocol: "grpc",
      http: 2,
      contentType: "application/grpc",
      method: "Get",
      enveloped: true,
      encodingHeader: "grpc-encoding",
    },
    {
      name: "gRPC streaming",
      protocol: "grpc",
      http: 2,
      contentType: "application/grpc+proto",
      method: "List",
      enveloped: true,
      encodingHeader: "grpc-encoding",
    },
  ];

  function send(transport: Transport, body: Buffer, headers: [string, string][] = []): Promise<Outcome> {
    const request: WireRequest = {
      http: transport.http,
      port: "main",
      method: "POST",
      path: `/rollcall.v1.ParticipantService/${transport.method}`,
      headers: [
        ["content-type", transport.contentType],
        ["authorization", testAuthorization],
        ...(transport.protocol === "grpc" ? [["te", "trailers"] as [string, string]] : []),
        ...headers,
      ],
      body,
    };
    return transport.http === 1 ? http1(server.port, request, 10_000) : http2Request(server.port, request, 10_000);
  }

  // An error a client caused is 400 where the protocol carries it in the HTTP
  // status (Connect unary), and 200 with the code in the body or trailers elsewhere.
  const clientStatus = (transport: Transport) => (transport.protocol === "connect" ? 400 : 200);

  for (const transport of transports) {
    describe(transport.name, () => {
      it("bytes that are no message of the input type: invalid_argument naming the message type", async () => {
        const reply = replyOf(transport.protocol, await send(transport, transport.enveloped ? frame(0, undecodable) : undecodable));
        expect(reply.status).to.equal(clientStatus(transport));
        expect(reply.code, reply.message).to.equal("invalid_argument");
        expect(reply.message).to.match(
          new RegExp(`^cannot decode message rollcall\\.v1\\.ParticipantService${transport.method}Request from binary: `),
        );
      });

      if (transport.enveloped && transport.protocol === "grpc") {
        // gRPC on the main port is served by @grpc/grpc-js, which reads a
        // message flagged compressed under no grpc-encoding as identity-encoded.
        it("a message flagged compressed without an encoding is read as identity-encoded, as grpc-js reads it", async () => {
          const reply = replyOf(transport.protocol, await send(transport, frame(1, validRequest(transport.method))));
          expect(reply.status).to.equal(200);
          // The room does not exist: the call reached the service.
          expect(reply.code, reply.message).to.equal("not_found");
        });
      } else if (transport.enveloped) {
        it("a message flagged compressed without an encoding: invalid_argument naming the missing header", async () => {
          const reply = replyOf(transport.protocol, await send(transport, frame(1, validRequest(transport.method))));
          expect(reply.status).to.equal(clientStatus(transport));
          expect(reply.code, reply.message).to.equal("invalid_argument");
          expect(reply.message).to.equal(`a message is flagged compressed, but the request has no ${transport.encodingHeader} header`);
        });
      }

      it("a gzip-compressed message that decodes is served", async () => {
        const compressed = gzipSync(validRequest(transport.method));
        const body = transport.enveloped ? frame(1, compressed) : compressed;
        const reply = replyOf(transport.protocol, await send(transport, body, [[transport.encodingHeader, "gzip"]]));
        // The room does not exist: the call reached the service.
        expect(reply.code, reply.message).to.equal("not_found");
      });

      it("a gzip-compressed message that does not decode: invalid_argument", async () => {
        const body = transport.enveloped ? frame(1, gzipSync(undecodable)) : gzipSync(undecodable);
        const reply = replyOf(transport.protocol, await send(transport, body, [[transport.encodingHeader, "gzip"]]));
        expect(reply.code, reply.message).to.equal("invalid_argument");
      });
    });
  }

  it("Connect GET: a message in the query that does not decode is 400 invalid_argument", async () => {
    const res = await fetch(
      `${server.url}/rollcall.v1.ParticipantService/Get?encoding=proto&base64=1&connect=v1&message=${undecodable.toString("base64url")}`,
      {
        headers: { authorization: testAuthorization },
      },
    );
    expect(res.status).to.equal(400);
    expect(await res.json()).to.deep.include({ code: "invalid_argument" });
  });

  describe("a content type no protocol takes", () => {
    for (const [method, connectTypes] of [
      ["Get", "application/json, application/proto"],
      ["List", "application/connect+json, application/connect+proto"],
    ] as const) {
      it(`${method}: 415 with a Connect error saying which content types it takes, and Accept-Post`, async () => {
        const res = await fetch(`${server.url}/rollcall.v1.ParticipantService/${method}`, {
          method: "POST",
          headers: { "content-type": "text/plain", authorization: testAuthorization },
          body: "{}",
        });
        const accepted = `${connectTypes}, application/grpc, application/grpc+json, application/grpc-web, application/grpc-web+json`;
        expect(res.status).to.equal(415);
        expect(res.headers.get("content-type")).to.equal("application/json");
        expect(res.headers.get("accept-post")).to.equal(accepted);
        expect(await res.json()).to.deep.equal({
          code: "invalid_argument",
          message: `content-type "text/plain" is not accepted; rollcall.v1.ParticipantService/${method} takes ${accepted}`,
        });
      });
    }
  });
});
