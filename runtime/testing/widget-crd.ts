import type { KubernetesObject } from "@kubernetes/client-node";
import type { ControlPlane } from "../../test/harness/control-plane.js";
import type { Condition } from "../conditions.js";
import type { ResourceKind } from "../resource-kind.js";

/** A throw-away namespaced kind with a status subresource, for runtime tests. */
export const widgetKind: ResourceKind = {
  group: "runtime.kompost.test",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
};

/** A Widget object. */
export interface Widget extends KubernetesObject {
  spec?: { size?: number };
  status?: { observedGeneration?: number; conditions?: Condition[]; note?: string; other?: string };
}

const crd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.runtime.kompost.test
spec:
  group: runtime.kompost.test
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, x-kubernetes-preserve-unknown-fields: true }
            status: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;

/** Installs the Widget CRD (idempotent) and waits until it is served. */
export async function installWidgetCrd(cp: ControlPlane): Promise<void> {
  const apply = await cp.kubectl(["apply", "-f", "-"], { input: crd });
  if (apply.code !== 0) throw new Error(`while installing the Widget CRD: ${apply.stderr}`);
  const wait = await cp.kubectl([
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd/widgets.runtime.kompost.test",
  ]);
  if (wait.code !== 0) throw new Error(`while waiting for the Widget CRD: ${wait.stderr}`);
}
