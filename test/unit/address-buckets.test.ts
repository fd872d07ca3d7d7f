import { expect } from "chai";
import { AddressBuckets } from "../../src/transports/http/address-buckets.js";

describe("the per-address token buckets", () => {
  it("lets an address spend its burst, then its rate, apart from other addresses", () => {
    let now = 0;
    const buckets = new AddressBuckets(2, 3, () => now);
    expect([1, 2, 3, 4].map(() => buckets.take("10.0.0.1"))).to.deep.equal([true, true, true, false]);
    expect(buckets.take("10.0.0.2")).to.equal(true);
    now += 500;
    expect([buckets.take("10.0.0.1"), buckets.take("10.0.0.1")]).to.deep.equal([true, false]);
    now += 60_000;
    expect([1, 2, 3, 4].map(() => buckets.take("10.0.0.1"))).to.deep.equal([true, true, true, false]);
  });
});
