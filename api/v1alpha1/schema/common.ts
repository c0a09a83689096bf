import type { PrinterColumn, SchemaNode } from "./crd-source.js";

/** A status condition, as the original Kompost wrote them (with lastHeartbeatTime) plus reason and observedGeneration. */
export const conditionSchema: SchemaNode = {
  type: "object",
  title: "Condition",
  description: "One aspect of the resource's state.",
  required: ["type", "status"],
  properties: {
    type: { type: "string", maxLength: 316, description: "What this condition is about, e.g. Ready." },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: { type: "string", maxLength: 1024, description: "A CamelCase word for programs." },
    message: { type: "string", maxLength: 32768, description: "What happened, for people." },
    lastTransitionTime: { type: "string", format: "date-time", description: "When status last changed." },
    lastHeartbeatTime: { type: "string", format: "date-time", description: "When this condition was last confirmed." },
    observedGeneration: { type: "integer", format: "int64", minimum: 0 },
  },
};

/** status.conditions: a list keyed by type. */
export const conditionsSchema: SchemaNode = {
  type: "array",
  items: conditionSchema,
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"],
};

/** status.observedGeneration: the generation the conditions describe. */
export const observedGenerationSchema: SchemaNode = {
  type: "integer",
  format: "int64",
  // 0 until the operator's first status write, so that kstatus (Flux) reads a new object as InProgress, not Current.
  default: 0,
  description: "The metadata.generation the status was computed for; 0 until the operator has reconciled the object.",
};

/** Printer column showing the Ready condition's status. */
export const readyColumn: PrinterColumn = {
  name: "Ready",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};

/** Printer column showing the Ready condition's reason, in `-o wide`. */
export const reasonColumn: PrinterColumn = {
  name: "Reason",
  type: "string",
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  priority: 1,
};

/** Printer column showing the object's age. */
export const ageColumn: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

/** The spec shared by PostgresInstance and PostgresClusterInstance: where the server is and how to log in as its admin. */
export function instanceSpecSchema(secretNamespaceNote: string): SchemaNode {
  return {
    type: "object",
    required: ["hostname", "username"],
    properties: {
      hostname: { type: "string", minLength: 1, maxLength: 253, description: "Host name or IP address of the server." },
      port: {
        type: "integer",
        minimum: 1,
        maximum: 65535,
        description: "TCP port of the server; 5432 when not set.",
      },
      username: {
        type: "string",
        minLength: 1,
        maxLength: 63,
        description: "Admin role to log in as: a superuser, or a role with CREATEDB and CREATEROLE.",
      },
      plainPassword: {
        type: "string",
        minLength: 1,
        maxLength: 1024,
        description: "The admin password in clear text. Not safe: use passwordSecretRef instead.",
      },
      passwordSecretRef: {
        type: "object",
        title: "PasswordSecretRef",
        description: `A key of a Secret that holds the admin password. ${secretNamespaceNote}`,
        required: ["name", "key"],
        properties: {
          name: { type: "string", minLength: 1, maxLength: 253, description: "Name of the Secret." },
          key: { type: "string", minLength: 1, maxLength: 253, description: "Key in the Secret's data." },
        },
      },
      ssl: {
        type: "object",
        title: "SslSpec",
        description: "TLS towards the server.",
        properties: {
          enabled: { type: "boolean", description: "Connect over TLS." },
          verify: {
            type: "string",
            enum: ["verify_none", "verify_ca", "verify_peer"],
            description:
              "verify_none: encrypt, check nothing (the default, as in the original Kompost); verify_ca: check the certificate chain; verify_peer: check the chain and the host name.",
          },
          ca: {
            type: "string",
            maxLength: 262144,
            description:
              "PEM CA certificate(s) to check the server certificate against; the system trust store when not set.",
          },
        },
      },
      allowedTemplates: {
        type: "array",
        maxItems: 64,
        items: { type: "string", minLength: 1, maxLength: 63 },
        "x-kubernetes-list-type": "set",
        description:
          "Databases that PostgresDatabase params.template may name besides template0 and template1. A database Kompost created for a PostgresDatabase is never a template for another, listed or not.",
      },
      allowedExtensions: {
        type: "array",
        maxItems: 256,
        items: { type: "string", minLength: 1, maxLength: 63 },
        "x-kubernetes-list-type": "set",
        description:
          "Extensions that PostgresDatabase spec.extensions may create on this server (exact names); none when empty or not set. Kompost installs them as the admin into a schema only it may create in.",
      },
      passwordRotation: {
        type: "object",
        title: "InstancePasswordRotation",
        description: "The default password rotation of the PostgresDatabases on this server.",
        properties: {
          every: {
            type: "string",
            pattern: "^[1-9][0-9]{0,5}(m|h|d)$",
            description:
              "How long a tenant role's password lives before Kompost replaces it (e.g. 90d; units m, h, d), unless the PostgresDatabase sets its own spec.passwordRotation.every.",
          },
        },
      },
      allowInsecurePasswordAuth: {
        type: "boolean",
        description:
          "Let Kompost send the admin password when the server asks for it in clear text or as MD5. Off by default: without it, Kompost logs in only by SCRAM, or over TLS with ssl.verify verify_ca or verify_peer, and refuses any other password request.",
      },
    },
    "x-kubernetes-validations": [
      {
        rule: "has(self.plainPassword) != has(self.passwordSecretRef)",
        message: "exactly one of plainPassword or passwordSecretRef must be set",
      },
    ],
  };
}

/** The status shared by PostgresInstance and PostgresClusterInstance. */
export const instanceStatusSchema: SchemaNode = {
  type: "object",
  // Present from creation on, so that its observedGeneration default applies.
  default: {},
  properties: {
    observedGeneration: observedGenerationSchema,
    conditions: conditionsSchema,
    heldPasswordSecrets: {
      type: "array",
      items: { type: "string", maxLength: 253 },
      "x-kubernetes-list-type": "set",
      description:
        "Names of the Secrets (in the namespace of spec.passwordSecretRef) that Kompost holds with its password finalizer for this instance; it releases each one the instance no longer references, and all of them when the instance is deleted. Written by Kompost only.",
    },
  },
};

/** Printer columns shared by both instance kinds. */
export const instancePrinterColumns: readonly PrinterColumn[] = [
  { name: "Host", type: "string", jsonPath: ".spec.hostname" },
  { name: "Port", type: "integer", jsonPath: ".spec.port" },
  { name: "User", type: "string", jsonPath: ".spec.username", priority: 1 },
  readyColumn,
  reasonColumn,
  ageColumn,
];
