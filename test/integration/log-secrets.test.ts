import { expect } from "chai";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { collect, connectBinaryHttp2, connectJsonHttp1, grpcJs, grpcWebHttp1, rejection } from "../support/clients.js";
import { secretsIn } from "../support/log-secrets.js";
import { basic, otherAccount, startRollcall, testAccount, testApiKey, testAuthorization } from "../support/rollcall.js";

// Logs carry no credential and no page token in full, whatever the caller
// sends and however the call ends. (The root hook in fixtures.ts checks the
// lines of the whole run the same way.)
describe("logs contain no secret", () => {
  it("every line written while calls with good, wrong and API-key credentials and page tokens run over every transport", async () => {
    const server = await startRollcall({ logLevel: "trace" });
    const room = `secrets-${process.pid}`;
    const authorizations = [
      testAuthorization,
      basic(testApiKey.sid, testApiKey.secret),
      basic(testAccount.sid, testAccount.token + "x"),
      basic(otherAccount.sid, testAccount.token),
      basic(testApiKey.sid, testAccount.token),
      `Bearer ${testAccount.token}`,
    ];
    const pageTokens: string[] = [];
    try {
      const joiner = connectJsonHttp1(ParticipantService, server.url);
      for (const identity of ["alice", "bob", "carol"]) await joiner.join({ room, identity });
      for (const authorization of authorizations) {
        const clients = [
          connectJsonHttp1(ParticipantService, server.url, authorization),
          connectBinaryHttp2(ParticipantService, server.url, authorization),
          grpcWebHttp1(ParticipantService, server.url, authorization),
        ];
        for (const client of clients) {
          await client.get({ room, participant: "alice" }).catch(() => undefined);
          const pages = await collect(client.list({ room, pageSize: 1 })).catch(() => []);
          pageTokens.push(...pages.map((page) => page.nextPageToken).filter((token) => token !== ""));
          if (pageTokens.length > 0) await collect(client.list({ room, pageSize: 1, pageToken: pageTokens[0] })).catch(() => []);
        }
        const grpc = grpcJs(ParticipantService, `127.0.0.1:${server.grpcPort}`, authorization);
        await grpc.get({ room, participant: "alice" }).catch(() => undefined);
        await grpc.list({ room, pageSize: 1 }).catch(() => []);
        grpc.close();
        const first = await fetch(`${server.url}/v1/Rooms/${room}/Participants?PageSize=1`, { headers: { authorization } });
        const body = (await first.json()) as { meta?: { next_page_url?: string | null } };
        const next = body.meta?.next_page_url;
        if (next) {
          pageTokens.push(new URL(next).searchParams.get("PageToken")!);
          await (await fetch(next.replace(/^https?:\/\/[^/]+/, server.url), { headers: { authorization } })).arrayBuffer();
        }
      }
      // An unauthenticated call leaves the header's owner unnamed.
      const refused = await rejection(
        connectJsonHttp1(ParticipantService, server.url, basic(testAccount.sid, "wrong")).get({ room, participant: "x" }),
      );
      expect(refused.rawMessage).to.match(/credentials/);
    } finally {
      await server.close();
    }
    expect(pageTokens.length).to.be.above(0);
    expect(server.capture.access().length).to.be.above(authorizations.length * 10);
    expect(secretsIn(server.capture.lines, pageTokens)).to.deep.equal([]);
  });
});
