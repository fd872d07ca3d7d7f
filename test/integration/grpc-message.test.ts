import { expect } from "chai";
import http2 from "node:http2";
import { percentEncoded } from "../../src/transports/grpc-message.js";
import { frame } from "../support/wire/envelopes.js";
import type { Exchange } from "../support/wire/exchange.js";
import { http2Request } from "../support/wire/http2.js";
import { stringField } from "../support/wire/protobuf.js";
import { startRollcall, testAuthorization } from "../support/rollcall.js";

// grpc-message is percent-encoded only where the gRPC spec says (bytes
// outside 0x20-0x7E, and "%"): read raw from the HTTP/2 trailers, as a client
// that does not decode would show it, from grpc-js (the main port's gRPC,
// and GRPC_PORT) and from connect-node (gRPC on a connection that began
// with another protocol).

describe("grpc-message on the wire", () => {
  let server: Awaited<ReturnType<typeof startRollcall>>;
  before(async () => {
    server = await startRollcall();
  });
  after(async () => server?.close());

  const room = "a;b c, d:e/f?g%h é\u{1F389}";
  const expected = `no room "a;b c, d:e/f?g%25h %C3%A9%F0%9F%8E%89" (a room sid, or the unique name of an in-progress room)`;

  const request = {
    http: 2 as const,
    method: "POST",
    path: "/rollcall.v1.RoomService/Get",
    headers: [
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ["authorization", testAuthorization],
    ] as [string, string][],
    body: frame(0, stringField(1, room)),
  };

  function expectSpecMessage(fields: http2.IncomingHttpHeaders): void {
    expect(fields["grpc-status"]).to.equal("5");
    expect(fields["grpc-message"]).to.equal(expected);
    expect(decodeURIComponent(String(fields["grpc-message"]))).to.equal(
      `no room "${room}" (a room sid, or the unique name of an in-progress room)`,
    );
  }

  for (const port of ["main", "grpc"] as const) {
    it(`grpc-js on the ${port === "main" ? "main port" : "GRPC_PORT"} sends ";", spaces and other printable ASCII as they are, and percent-encodes "%" and UTF-8`, async () => {
      const reply = (await http2Request(port === "main" ? server.port : server.grpcPort!, { ...request, port }, 10_000)) as Exchange;
      expectSpecMessage({ ...reply.headers, ...reply.trailers });
    });
  }

  it("connect-node, serving gRPC on a connection that began with Connect, spells it the same", async () => {
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    try {
      const exchange = (headers: http2.OutgoingHttpHeaders, body: Buffer) =>
        new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          const stream = session.request(headers);
          let fields: http2.IncomingHttpHeaders = {};
          stream.on("response", (received) => (fields = { ...fields, ...received }));
          stream.on("trailers", (received: http2.IncomingHttpHeaders) => (fields = { ...fields, ...received }));
          stream.on("error", reject);
          stream.on("end", () => resolve(fields));
          stream.resume();
          stream.end(body);
        });
      const first = await exchange(
        {
          ":method": "POST",
          ":path": "/rollcall.v1.RoomService/Get",
          "content-type": "application/json",
          authorization: testAuthorization,
        },
        Buffer.from(JSON.stringify({ room: "no-such-room" })),
      );
      expect(first[":status"]).to.equal(404);
      const fields = await exchange({ ":method": "POST", ":path": request.path, ...Object.fromEntries(request.headers) }, request.body);
      expectSpecMessage(fields);
    } finally {
      session.close();
    }
  });

  it("percentEncoded leaves 0x20-0x7E but % as they are", () => {
    const printable = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");
    expect(percentEncoded(printable)).to.equal(printable.replace("%", "%25"));
    expect(percentEncoded("\t\n\u007f")).to.equal("%09%0A%7F");
  });
});
