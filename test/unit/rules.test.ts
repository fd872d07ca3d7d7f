import { expect } from "chai";
import { RollcallError } from "../../src/domain/errors.js";
import { checkIdentity, checkRange, checkRoomName, defaultPageSize, pageSizeOf } from "../../src/operations/rules.js";

function refusal(check: () => unknown): RollcallError {
  try {
    check();
  } catch (error) {
    expect(error).to.be.instanceOf(RollcallError);
    return error as RollcallError;
  }
  throw new Error("expected the value to be refused");
}

describe("naming and range rules", () => {
  it("takes identities and room names of up to 128 characters, counted as code points", () => {
    expect(checkIdentity("ann@example.com")).to.equal("ann@example.com");
    expect(checkIdentity("é".repeat(128))).to.equal("é".repeat(128));
    expect(checkIdentity("😀".repeat(128)), "128 astral characters are 256 UTF-16 units").to.equal("😀".repeat(128));
    expect(checkRoomName("Daily standup — 🎥")).to.equal("Daily standup — 🎥");
    const tooLong = refusal(() => checkIdentity("x".repeat(129)));
    expect([tooLong.reason, tooLong.field, tooLong.rule]).to.deep.equal([
      "identity_too_long",
      "identity",
      "must be at most 128 characters, got 129",
    ]);
    expect(refusal(() => checkRoomName("y".repeat(129))).reason).to.equal("room_name_too_long");
  });

  it("refuses empty names, control characters and lone surrogates, each with its reason", () => {
    expect(refusal(() => checkIdentity("")).reason).to.equal("identity_invalid");
    expect(refusal(() => checkRoomName("")).reason).to.equal("room_name_invalid");
    for (const bad of ["a\u0000b", "tab\there", "line\n", "\u007f", "\u0085"]) {
      expect(refusal(() => checkIdentity(bad)).reason, JSON.stringify(bad)).to.equal("identity_invalid_characters");
      expect(refusal(() => checkRoomName(bad)).reason, JSON.stringify(bad)).to.equal("room_name_invalid_characters");
    }
    const surrogate = refusal(() => checkIdentity("a\ud800b"));
    expect([surrogate.reason, surrogate.rule]).to.deep.equal([
      "identity_invalid_characters",
      "must be valid Unicode (it contains a lone surrogate)",
    ]);
  });

  it("names the field given", () => {
    expect(refusal(() => checkIdentity("", "participant")).field).to.equal("participant");
    expect(refusal(() => checkRoomName("", "room")).field).to.equal("room");
    expect(refusal(() => checkRoomName("")).field).to.equal("unique_name");
  });

  it("refuses a room name shaped like a room sid (hex digits in either case)", () => {
    for (const name of ["RM" + "a".repeat(32), "RM" + "0123456789ABCDEF".repeat(2)]) {
      expect(refusal(() => checkRoomName(name)).rule, name).to.equal("must not have the form of a room sid");
    }
    expect(checkRoomName("rm" + "a".repeat(32)), "the prefix is upper case").to.equal("rm" + "a".repeat(32));
    expect(checkRoomName("RM" + "a".repeat(31))).to.equal("RM" + "a".repeat(31));
    expect(checkIdentity("RM" + "a".repeat(32)), "an identity may look like a room sid").to.equal("RM" + "a".repeat(32));
  });

  it("checkRange takes whole numbers within the bounds, both included", () => {
    expect(checkRange(1, 1, 50, "max_participants", "max_participants_out_of_range")).to.equal(1);
    expect(checkRange(50, 1, 50, "max_participants", "max_participants_out_of_range")).to.equal(50);
    for (const value of [0, 51, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = refusal(() => checkRange(value, 1, 50, "max_participants", "max_participants_out_of_range"));
      expect([error.reason, error.field, error.rule], String(value)).to.deep.equal([
        "max_participants_out_of_range",
        "max_participants",
        `must be between 1 and 50, got ${value}`,
      ]);
    }
  });

  it("pageSizeOf: the default when absent, else 1 to 1000", () => {
    expect(pageSizeOf(undefined)).to.equal(defaultPageSize).and.to.equal(50);
    expect(pageSizeOf(1)).to.equal(1);
    expect(pageSizeOf(1000)).to.equal(1000);
    expect(refusal(() => pageSizeOf(0)).reason).to.equal("page_size_out_of_range");
    expect(refusal(() => pageSizeOf(1001)).rule).to.equal("must be between 1 and 1000, got 1001");
  });
});
