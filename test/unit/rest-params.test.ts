import { expect } from "chai";
import { RollcallError } from "../../src/domain/errors.js";
import { Params } from "../../src/transports/rest/params.js";

const params = (query: string) => new Params(new URLSearchParams(query));

function refusal(read: () => unknown): RollcallError {
  try {
    read();
  } catch (error) {
    expect(error).to.be.instanceOf(RollcallError);
    return error as RollcallError;
  }
  throw new Error("expected the parameter to be refused");
}

describe("REST parameters", () => {
  it("are case-sensitive, and absent when not given", () => {
    const given = params("Status=completed&status=x");
    expect(given.string("Status")).to.equal("completed");
    expect(given.string("STATUS")).to.equal(undefined);
    expect(given.integer("PageSize")).to.equal(undefined);
    expect(given.date("DateCreatedAfter")).to.equal(undefined);
    expect(given.oneOf("Missing", ["a"])).to.equal(undefined);
  });

  it("may be given once, naming the parameter otherwise", () => {
    const error = refusal(() => params("Status=a&Status=b").string("Status"));
    expect([error.reason, error.field, error.rule]).to.deep.equal(["invalid_parameter", "Status", "may be given once, got 2 values"]);
  });

  it("integer: decimal digits with a sign and surrounding spaces; empty is absent", () => {
    expect(params("PageSize=20").integer("PageSize")).to.equal(20);
    expect(params("PageSize=-3").integer("PageSize")).to.equal(-3);
    expect(params("PageSize=%2B7").integer("PageSize")).to.equal(7);
    expect(params("PageSize=%2012%20").integer("PageSize")).to.equal(12);
    expect(params("PageSize=").integer("PageSize")).to.equal(undefined);
    for (const text of ["1.5", "1e3", "0x10", "ten", "1234567890123456"]) {
      const error = refusal(() => params(`PageSize=${encodeURIComponent(text)}`).integer("PageSize"));
      expect(error.field, text).to.equal("PageSize");
      expect(error.rule, text).to.equal(`must be an integer, got ${JSON.stringify(text)}`);
    }
  });

  it("date: an ISO 8601 date, or date-time with Z or an offset", () => {
    expect(params("D=2026-12-01").date("D")).to.equal(Date.UTC(2026, 11, 1));
    expect(params("D=2026-12-01T09:00:00Z").date("D")).to.equal(Date.UTC(2026, 11, 1, 9));
    expect(params("D=2026-12-01T09:00Z").date("D")).to.equal(Date.UTC(2026, 11, 1, 9));
    expect(params("D=2026-12-01T09:00:00.250Z").date("D")).to.equal(Date.UTC(2026, 11, 1, 9, 0, 0, 250));
    expect(params("D=2026-12-01T10:00:00%2B01:00").date("D")).to.equal(Date.UTC(2026, 11, 1, 9));
    expect(params("D=2026-12-01T09:00:00-0130").date("D")).to.equal(Date.UTC(2026, 11, 1, 10, 30));
    expect(params("D=2024-02-29").date("D")).to.equal(Date.UTC(2024, 1, 29));
  });

  it("date: refuses other forms and days the calendar does not have", () => {
    for (const text of [
      "2026-12-01T09:00:00",
      "2026-12-01 09:00:00Z",
      "01/12/2026",
      "2026-13-01",
      "2026-02-30",
      "2025-02-29",
      "1700000000",
      "yesterday",
    ]) {
      const error = refusal(() => params(`D=${encodeURIComponent(text)}`).date("D"));
      expect(error.field, text).to.equal("D");
      expect(error.rule, text).to.match(/^must be an ISO 8601 date-time/);
    }
  });

  it("oneOf: one of the allowed values, exactly", () => {
    const allowed = ["in-progress", "completed"] as const;
    expect(params("Status=completed").oneOf("Status", allowed)).to.equal("completed");
    expect(params("Status=").oneOf("Status", allowed)).to.equal(undefined);
    const error = refusal(() => params("Status=Completed").oneOf("Status", allowed));
    expect(error.rule).to.equal('must be one of in-progress, completed, got "Completed"');
  });

  it("quotes at most 40 characters of a refused value", () => {
    const error = refusal(() => params(`PageSize=${"x".repeat(100)}`).integer("PageSize"));
    expect(error.rule).to.equal(`must be an integer, got ${JSON.stringify("x".repeat(40))}`);
  });
});
