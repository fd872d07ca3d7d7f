import { expect } from "chai";
import { refusalOf, WriteRefusals } from "../../src/store/redis/write-refusals.js";
import { waitFor } from "../support/wait.js";
import { LogCapture } from "../support/log-capture.js";

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = "ReplyError";
  return error;
}

describe("write refusals", () => {
  it("tells refusals apart by the reply's code, inside a script too", () => {
    expect(refusalOf(replyError("OOM command not allowed when used memory > 'maxmemory'. script: ab12, on @user_script:1."))).to.equal(
      "out_of_memory",
    );
    expect(refusalOf(replyError("READONLY You can't write against a read only replica."))).to.equal("read_only");
    expect(refusalOf(replyError("MISCONF Redis is configured to save RDB snapshots, but ..."))).to.equal("cannot_persist");
    expect(refusalOf(replyError("NOREPLICAS Not enough good replicas to write."))).to.equal("too_few_replicas");
    expect(refusalOf(replyError("NOSCRIPT No matching script. Please use EVAL."))).to.equal("scripts_lost");
    expect(refusalOf(replyError("ERR Error running script"))).to.equal(undefined);
    expect(refusalOf(replyError("LOADING Redis is loading the dataset in memory"))).to.equal(undefined);
    expect(refusalOf(new Error("OOM in a message that is not Redis' reply"))).to.equal(undefined);
  });

  it("logs on entering and on leaving a refusal, not once per call", async () => {
    const capture = new LogCapture();
    let accepting = false;
    const refusals: WriteRefusals = new WriteRefusals(
      capture.logger.child({ component: "store" }),
      () => {
        if (!accepting) return Promise.reject(new Error("still refused"));
        refusals.accepted();
        return Promise.resolve();
      },
      10,
    );
    try {
      for (let i = 0; i < 100; i++) refusals.refused("out_of_memory", "OOM command not allowed");
      expect(capture.messages()).to.have.length(1);
      expect(capture.messages()[0]).to.match(
        /^store: refusing writes: Redis is out of memory .*; calls that write answer unavailable meanwhile$/,
      );
      refusals.refused("read_only", "READONLY You can't write against a read only replica.");
      expect(capture.messages()).to.have.length(2);
      expect(refusals.refusal).to.equal("read_only");
      // Its own probe finds writes accepted again.
      accepting = true;
      await waitFor(() => refusals.refusal === undefined, { what: "the tracker's probe to find writes accepted" });
      expect(capture.messages()).to.have.length(3);
      expect(capture.messages()[2]).to.match(/^store: accepting writes again after \d+\.\d s of refusal$/);
    } finally {
      refusals.close();
    }
  });

  it("leaves lost scripts once no call met NOSCRIPT for a while, not on a probe", async () => {
    const capture = new LogCapture();
    const refusals = new WriteRefusals(capture.logger.child({ component: "store" }), () => Promise.resolve(), 10, 50);
    try {
      refusals.refused("scripts_lost", "NOSCRIPT No matching script.");
      refusals.accepted();
      expect(refusals.refusal).to.equal("scripts_lost");
      await waitFor(() => refusals.refusal === undefined, { what: "lost scripts to be left after a quiet time" });
      expect(capture.messages()).to.have.length(2);
    } finally {
      refusals.close();
    }
  });
});
