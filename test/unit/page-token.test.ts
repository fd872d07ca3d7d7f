import { expect } from "chai";
import { RollcallError } from "../../src/domain/errors.js";
import { cutPage, decodePageToken, encodePageToken } from "../../src/operations/page-token.js";

const statuses = ["connected", "disconnected"] as const;
const room = "RM" + "a".repeat(32);
const otherRoom = "RM" + "b".repeat(32);
const sid = "PA" + "c".repeat(32);

function refusal(decode: () => unknown): RollcallError {
  try {
    decode();
  } catch (error) {
    expect(error).to.be.instanceOf(RollcallError);
    return error as RollcallError;
  }
  throw new Error("expected the token to be refused");
}

describe("page tokens", () => {
  it("decode to the position they were made of, with or without a room", () => {
    const position = { status: "disconnected" as const, cursor: { time: 1_700_000_000_123, sequence: 7, sid }, roomSid: room };
    expect(decodePageToken(encodePageToken(position), statuses, undefined, room)).to.deep.equal(position);
    expect(decodePageToken(encodePageToken(position), statuses, "disconnected", room)).to.deep.equal(position);
    const roomless = { status: "connected" as const, cursor: { time: 0, sequence: 1, sid: "RM" + "d".repeat(32) } };
    expect(decodePageToken(encodePageToken(roomless), statuses, undefined)).to.deep.equal({ ...roomless, roomSid: undefined });
  });

  it("are URL-safe base64 with no padding", () => {
    const token = encodePageToken({ status: "connected", cursor: { time: 1_700_000_000_000, sequence: 7, sid }, roomSid: room });
    expect(token).to.match(/^[A-Za-z0-9_-]+$/);
  });

  it("refuses what this server did not issue, naming page_token", () => {
    const forged = [
      "",
      "not a token",
      Buffer.from(`connected.123.7.${sid}.x`).toString("base64url"),
      Buffer.from(`connected.12345678901234.7.${sid}`).toString("base64url"),
      Buffer.from(`connected.123.7.PA${"c".repeat(31)}`).toString("base64url"),
      Buffer.from(`connected.-1.7.${sid}`).toString("base64url"),
      Buffer.from(`CONNECTED.123.7.${sid}`).toString("base64url"),
      Buffer.from(`failed.123.7.${sid}`).toString("base64url"),
    ];
    for (const token of forged) {
      const error = refusal(() => decodePageToken(token, statuses, undefined));
      expect(error.reason, token).to.equal("invalid_parameter");
      expect(error.field, token).to.equal("page_token");
      expect(error.rule, token).to.equal("is not a page token issued by this server");
    }
  });

  it("refuses a token issued for another status, or another room", () => {
    const token = encodePageToken({ status: "connected", cursor: { time: 5, sequence: 7, sid }, roomSid: room });
    expect(refusal(() => decodePageToken(token, statuses, "disconnected", room)).rule).to.equal(
      "was issued for status connected, not disconnected",
    );
    expect(refusal(() => decodePageToken(token, statuses, undefined, otherRoom)).rule).to.equal("was issued for another room");
    expect(refusal(() => decodePageToken(token, statuses, undefined)).rule).to.equal("was issued for another room");
    const roomless = encodePageToken({ status: "connected", cursor: { time: 5, sequence: 7, sid } });
    expect(refusal(() => decodePageToken(roomless, statuses, undefined, room)).rule).to.equal("was issued for another room");
  });

  it("cutPage keeps pageSize records and points after the last one only when more follow", () => {
    const records = [1, 2, 3].map((n) => ({ sid: `PA${n}`, at: n * 10, sequence: n + 1 }));
    expect(cutPage(records, 2, "connected", (r) => r.at, room)).to.deep.equal({
      page: records.slice(0, 2),
      next: { status: "connected", cursor: { time: 20, sequence: 3, sid: "PA2" }, roomSid: room },
    });
    expect(cutPage(records, 3, "connected", (r) => r.at)).to.deep.equal({ page: records, next: undefined });
    expect(cutPage([] as { sid: string; sequence: number }[], 3, "connected", () => 0)).to.deep.equal({ page: [], next: undefined });
  });
});
