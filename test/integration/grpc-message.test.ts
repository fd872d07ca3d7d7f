import { expect } from "chai";
import { percentEncoded } from "../../src/transports/connect/grpc-message.js";
import { frame } from "../support/wire/envelopes.js";
import type { Exchange } from "../support/wire/exchange.js";
import { http2Request } from "../support/wire/http2.js";
import { stringField } from "../support/wire/protobuf.js";
import { startRollcall, testAuthorization } from "../support/rollcall.js";

// grpc-message is percent-encoded on the main port only where the gRPC spec
// says (bytes outside 0x20-0x7E, and "%"): read raw from the HTTP/2
// trailers, as a client that does not decode would show it. (grpc-js on
// GRPC_PORT encodes as encodeURI does, spaces and quotes too; decoders read
// both alike.)

describe("grpc-message on the wire", () => {
  let server: Awaited<ReturnType<typeof startRollcall>>;
  before(async () => {
    server = await startRollcall();
  });
  after(async () => server?.close());

  const room = "a;b c, d:e/f?g%h é\u{1F389}";
  const expected = `no room "a;b c, d:e/f?g%25h %C3%A9%F0%9F%8E%89" (a room sid, or the unique name of an in-progress room)`;

  it('sends ";", spaces and other printable ASCII as they are, and percent-encodes "%" and UTF-8', async () => {
    const reply = (await http2Request(
      server.port,
      {
        http: 2,
        port: "main",
        method: "POST",
        path: "/rollcall.v1.RoomService/Get",
        headers: [
          ["content-type", "application/grpc"],
          ["te", "trailers"],
          ["authorization", testAuthorization],
        ],
        body: frame(0, stringField(1, room)),
      },
      10_000,
    )) as Exchange;
    const fields = { ...reply.headers, ...reply.trailers };
    expect(fields["grpc-status"]).to.equal("5");
    expect(fields["grpc-message"]).to.equal(expected);
    expect(decodeURIComponent(fields["grpc-message"]!)).to.equal(
      `no room "${room}" (a room sid, or the unique name of an in-progress room)`,
    );
  });

  it("percentEncoded leaves 0x20-0x7E but % as they are", () => {
    const printable = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");
    expect(percentEncoded(printable)).to.equal(printable.replace("%", "%25"));
    expect(percentEncoded("\t\n\u007f")).to.equal("%09%0A%7F");
  });
});
