import { expect } from "chai";
import { ExponentialBackoffLimiter, MaxOfLimiter, TokenBucketLimiter } from "./rate-limiter.js";

describe("rate limiters", () => {
  describe("ExponentialBackoffLimiter", () => {
    it("doubles the delay of a key on each failure up to the cap", () => {
      const limiter = new ExponentialBackoffLimiter(5, 100);
      const delays = Array.from({ length: 7 }, () => limiter.when("a"));
      expect(delays).to.deep.equal([5, 10, 20, 40, 80, 100, 100]);
      expect(limiter.retries("a")).to.equal(7);
    });

    it("keeps the failures of each key apart and starts over after forget", () => {
      const limiter = new ExponentialBackoffLimiter(1, 1000);
      limiter.when("a");
      limiter.when("a");
      expect(limiter.when("b")).to.equal(1);
      limiter.forget("a");
      expect(limiter.retries("a")).to.equal(0);
      expect(limiter.when("a")).to.equal(1);
    });
  });

  describe("TokenBucketLimiter", () => {
    it("lets a burst through at once, then spaces requests at the rate", () => {
      let now = 0;
      const bucket = new TokenBucketLimiter(10, 3, () => now);
      expect([bucket.when("x"), bucket.when("y"), bucket.when("z")]).to.deep.equal([0, 0, 0]);
      expect(bucket.when("x")).to.equal(100);
      expect(bucket.when("x")).to.equal(200);
      now = 1000;
      expect(bucket.when("x")).to.equal(0);
    });
  });

  describe("MaxOfLimiter", () => {
    it("uses the longest delay of its limiters and forgets in all of them", () => {
      let now = 0;
      const limiter = new MaxOfLimiter(new ExponentialBackoffLimiter(1, 1000), new TokenBucketLimiter(1, 1, () => now));
      expect(limiter.when("a")).to.equal(1);
      expect(limiter.when("a")).to.equal(1000);
      now = 10_000;
      expect(limiter.when("a")).to.equal(4);
      limiter.forget("a");
      expect(limiter.retries("a")).to.equal(0);
    });
  });
});
