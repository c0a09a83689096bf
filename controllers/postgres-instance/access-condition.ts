import type { ConditionInput } from "../../runtime/conditions.js";
import { ALLOWED_NAMESPACES_ANNOTATION, parseAllowedNamespaces } from "../../services/access/allowed-namespaces.js";
import { InstanceCondition, InstanceReason } from "../constants.js";
import type { AnyInstance, InstanceKindAdapter } from "./instance-kinds.js";

/**
 * The `AllowedNamespaces` condition: whether the annotation parses, and who may use the
 * instance in short. An invalid annotation grants nothing but leaves the instance Ready,
 * since it still serves its own namespace. The decision itself is `mayUseInstance`'s.
 */
export function allowedNamespacesCondition<T extends AnyInstance>(
  instance: T,
  adapter: InstanceKindAdapter<T>,
): ConditionInput {
  const annotation = instance.metadata.annotations?.[ALLOWED_NAMESPACES_ANNOTATION];
  const type = InstanceCondition.AllowedNamespaces;
  if (annotation === undefined) {
    const message = `No annotation ${ALLOWED_NAMESPACES_ANNOTATION}: usable from ${adapter.defaultAccess(instance)}`;
    return { type, status: "True", reason: InstanceReason.AnnotationValid, message };
  }
  const parsed = parseAllowedNamespaces(annotation);
  if (!parsed.ok) {
    const nobody = instance.metadata.namespace ? "no other namespace" : "no namespace";
    const message = `${parsed.message}; ${nobody} may use the instance until it is fixed`;
    return { type, status: "False", reason: InstanceReason.InvalidAnnotation, message: capitalise(message) };
  }
  const namespace = instance.metadata.namespace;
  const expressions = annotation.split(/[\s,]+/).filter((expression) => expression !== "");
  const matching = `namespaces matching ${expressions.map((expression) => `"${expression}"`).join(", ")}`;
  const others = expressions.length > 0 ? matching : namespace ? "no other namespace" : "no namespace";
  const message = namespace ? `Usable from namespace "${namespace}" and ${others}` : `Usable from ${others}`;
  return { type, status: "True", reason: InstanceReason.AnnotationValid, message };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
