import { ApiException } from "@kubernetes/client-node";
import { expect } from "chai";
import { errorFields } from "./errors.js";

describe("errorFields", () => {
  it("gives the status code and the Status message of a client-node ApiException, without its noisy stack", () => {
    const body = JSON.stringify({ kind: "Status", message: 'leases "kompost" is forbidden', code: 403 });
    const fields = errorFields(new ApiException(403, "Forbidden", body, {}));
    expect(fields).to.deep.equal({ error: 'HTTP 403: leases "kompost" is forbidden' });
  });

  it("keeps a body that is not JSON as it is", () => {
    expect(errorFields(new ApiException(502, "Bad Gateway", "upstream down", {}))).to.deep.equal({
      error: "HTTP 502: upstream down",
    });
  });

  it("gives the message and stack of an Error, and the text of anything else", () => {
    const err = new Error("connection refused");
    expect(errorFields(err)).to.deep.equal({ error: "connection refused", stack: err.stack });
    expect(errorFields("plain text")).to.deep.equal({ error: "plain text" });
  });
});
