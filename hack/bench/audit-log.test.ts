import { expect } from "chai";
import { countByVerbAndResource, parseAuditLog } from "./audit-log.js";

const OPERATOR = "system:serviceaccount:kompost:kompost-controller-manager";

function event(fields: Record<string, unknown>): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    user: { username: OPERATOR, groups: ["system:serviceaccounts"] },
    requestReceivedTimestamp: "2026-11-24T06:00:00.000000Z",
    ...fields,
  });
}

describe("benchmark audit log reading", () => {
  it("counts each request once by verb and resource, a watch that opened and ended included", () => {
    const log = [
      event({ auditID: "a", stage: "ResponseStarted", verb: "watch", objectRef: { resource: "secrets" } }),
      event({
        auditID: "b",
        stage: "ResponseComplete",
        verb: "patch",
        objectRef: { resource: "postgresdatabases", subresource: "status", namespace: "bench", name: "db-0" },
        responseStatus: { code: 200 },
      }),
      event({ auditID: "a", stage: "ResponseComplete", verb: "watch", objectRef: { resource: "secrets" } }),
      event({ auditID: "c", stage: "ResponseComplete", verb: "create", objectRef: { resource: "events" } }),
      event({ auditID: "d", stage: "ResponseComplete", verb: "get", requestURI: "/readyz?verbose" }),
      '{"kind":"Event","auditID":"e","stage":"Respo', // cut off at the end of the file
    ].join("\n");
    const requests = parseAuditLog(log);
    expect(countByVerbAndResource(requests)).to.deep.equal({
      "create events": 1,
      "get /readyz": 1,
      "patch postgresdatabases/status": 1,
      "watch secrets": 1,
    });
    expect(requests.find((r) => r.verb === "patch")).to.include({ namespace: "bench", name: "db-0", code: 200 });
    expect(requests.every((r) => r.user === OPERATOR)).to.equal(true);
  });
});
