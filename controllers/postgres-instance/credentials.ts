import type { PostgresInstanceSpec } from "../../api/v1alpha1/index.js";
import type { ConditionInput } from "../../runtime/conditions.js";
import type { SecretReader } from "../../services/secrets/connection-secret.js";
import { InstanceCondition, InstanceReason } from "../constants.js";

/** The password of an instance, or why it could not be had; `condition` is the `Credentials` condition either way. */
export type CredentialsResult =
  | { readonly ok: true; readonly password: string; readonly plain: boolean; readonly condition: ConditionInput }
  | { readonly ok: false; readonly condition: ConditionInput };

/**
 * Resolves the admin password from `spec.plainPassword`, or from the Secret `passwordSecretRef`
 * names in `namespace`, read afresh by `read` (the controller watches only Secrets' metadata).
 */
export async function resolveCredentials(
  spec: PostgresInstanceSpec,
  namespace: string,
  read: SecretReader,
): Promise<CredentialsResult> {
  if (spec.plainPassword !== undefined) {
    return resolved(
      spec.plainPassword,
      true,
      InstanceReason.PlainPassword,
      "The password is taken from spec.plainPassword, which anyone who can read the resource can see; store it in a Secret and use spec.passwordSecretRef",
    );
  }
  const ref = spec.passwordSecretRef;
  if (!ref) return failed(InstanceReason.NoPassword, "Neither spec.plainPassword nor spec.passwordSecretRef is set");
  const where = `Secret "${namespace}/${ref.name}"`;
  const secret = await read(namespace, ref.name);
  if (!secret) {
    return failed(InstanceReason.SecretNotFound, `${where} named in spec.passwordSecretRef was not found`);
  }
  const encoded = secret.data?.[ref.key];
  if (encoded === undefined) {
    const keys = Object.keys(secret.data ?? {}).sort();
    const has = keys.length > 0 ? `it has ${keys.map((k) => `"${k}"`).join(", ")}` : "it has no keys";
    return failed(InstanceReason.SecretKeyNotFound, `${where} has no key "${ref.key}" (${has})`);
  }
  const password = Buffer.from(encoded, "base64").toString("utf8");
  if (password === "") return failed(InstanceReason.SecretValueEmpty, `Key "${ref.key}" of ${where} is empty`);
  return resolved(
    password,
    false,
    InstanceReason.SecretResolved,
    `The password is read from key "${ref.key}" of ${where}`,
  );
}

function resolved(password: string, plain: boolean, reason: string, message: string): CredentialsResult {
  return {
    ok: true,
    password,
    plain,
    condition: { type: InstanceCondition.Credentials, status: "True", reason, message },
  };
}

function failed(reason: string, message: string): CredentialsResult {
  return { ok: false, condition: { type: InstanceCondition.Credentials, status: "False", reason, message } };
}
