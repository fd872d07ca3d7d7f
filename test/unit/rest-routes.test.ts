import { expect } from "chai";
import type { ParticipantOperations } from "../../src/operations/participants.js";
import type { RoomOperations } from "../../src/operations/rooms.js";
import type { TrackOperations } from "../../src/operations/tracks.js";
import { requestPathOf } from "../../src/transports/rest/request-path.js";
import { matchRoute, restRoutes } from "../../src/transports/rest/routes.js";

// Building the routes calls no operation: only their patterns matter here.
const routes = restRoutes({} as ParticipantOperations, {} as RoomOperations, {} as TrackOperations);

function routeOf(pathname: string): { pattern: string; methods: string[]; args: Record<string, string> } | undefined {
  const match = matchRoute(routes, requestPathOf(pathname).segments);
  return match && { pattern: match.route.pattern.join("/"), methods: Object.keys(match.route.methods), args: match.args };
}

describe("REST route matching", () => {
  it("matches each Twilio Video v1 resource, with its methods and arguments", () => {
    expect(routeOf("/v1/Rooms")).to.deep.equal({ pattern: "Rooms", methods: ["GET", "POST"], args: {} });
    expect(routeOf("/v1/Rooms/standup")).to.deep.equal({ pattern: "Rooms/:room", methods: ["GET", "POST"], args: { room: "standup" } });
    expect(routeOf("/v1/Rooms/standup/Participants")).to.deep.equal({
      pattern: "Rooms/:room/Participants",
      methods: ["GET"],
      args: { room: "standup" },
    });
    expect(routeOf("/v1/Rooms/standup/Participants/ann")).to.deep.equal({
      pattern: "Rooms/:room/Participants/:participant",
      methods: ["GET", "POST"],
      args: { room: "standup", participant: "ann" },
    });
    expect(routeOf("/v1/Rooms/standup/Participants/ann/Anonymize")).to.deep.equal({
      pattern: "Rooms/:room/Participants/:participant/Anonymize",
      methods: ["POST"],
      args: { room: "standup", participant: "ann" },
    });
  });

  it("ignores trailing slashes and percent-decodes arguments", () => {
    expect(routeOf("/v1/Rooms/")?.pattern).to.equal("Rooms");
    expect(routeOf("/v1/Rooms//")?.pattern).to.equal("Rooms");
    expect(routeOf("/v1/Rooms/daily%20standup/Participants/ann%2Fbob")?.args).to.deep.equal({
      room: "daily standup",
      participant: "ann/bob",
    });
  });

  it("matches literal segments case-sensitively, and nothing outside /v1", () => {
    expect(routeOf("/v1/rooms")).to.equal(undefined);
    expect(routeOf("/v1/Rooms/x/participants")).to.equal(undefined);
    expect(routeOf("/v2/Rooms")).to.equal(undefined);
    expect(routeOf("/Rooms")).to.equal(undefined);
    expect(routeOf("/v1")).to.equal(undefined);
    expect(routeOf("/v1Rooms")).to.equal(undefined);
  });

  it("matches no route for an empty argument, or one that does not percent-decode", () => {
    expect(routeOf("/v1/Rooms//Participants")).to.equal(undefined);
    expect(routeOf("/v1/Rooms/%E0%A4%A/Participants")).to.equal(undefined);
    expect(routeOf("/v1/Rooms/x/Participants/ann/Anonymize/more")).to.equal(undefined);
  });

  it("splits a path into what a 404 names and the segments below /v1", () => {
    expect(requestPathOf("/v1/Rooms/a%20b/")).to.deep.equal({
      path: "/v1/Rooms/a%20b",
      resource: "/Rooms/a%20b",
      segments: ["Rooms", "a b"],
    });
    expect(requestPathOf("/v1")).to.deep.equal({ path: "/v1", resource: "", segments: [] });
    expect(requestPathOf("/x/Rooms")).to.deep.equal({ path: "/x/Rooms", resource: "/x/Rooms", segments: [] });
    expect(requestPathOf("/")).to.deep.equal({ path: "", resource: "", segments: [] });
  });
});
