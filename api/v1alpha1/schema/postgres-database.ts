import { GROUP, VERSION, type CrdSource } from "./crd-source.js";
import { ageColumn, conditionsSchema, observedGenerationSchema, readyColumn, reasonColumn } from "./common.js";

const k8sName = { type: "string", minLength: 1, maxLength: 253 };

/** The effective naming strategy in CEL: an unset field means prefix_namespace. */
const strategyOf = (obj: string) =>
  `(has(${obj}.databaseNamingStrategy) ? ${obj}.databaseNamingStrategy : 'prefix_namespace')`;

/** A CEL transition rule: the optional field `field` of spec is neither added, removed nor changed. */
const unchanged = (field: string) =>
  `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`;

/** A database, with an app and an inspector role and a Secret for each, on a PostgresInstance or PostgresClusterInstance. */
export const postgresDatabase: CrdSource = {
  group: GROUP,
  version: VERSION,
  kind: "PostgresDatabase",
  plural: "postgresdatabases",
  singular: "postgresdatabase",
  shortNames: ["pgdb"],
  categories: ["kompost"],
  scope: "Namespaced",
  description:
    "A database on a registered PostgreSQL server, with a read-write app role, a read-only inspector role, and a Secret holding the connection details of each.",
  printerColumns: [
    {
      name: "Database",
      type: "string",
      jsonPath: ".status.sql_db_name",
      description: "Name of the database on the server",
    },
    { name: "Instance", type: "string", jsonPath: ".spec.instanceRef.name", priority: 1 },
    { name: "Cluster Instance", type: "string", jsonPath: ".spec.clusterInstanceRef.name", priority: 1 },
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
  spec: {
    type: "object",
    properties: {
      instanceRef: {
        type: "object",
        title: "InstanceRef",
        description: "A PostgresInstance to create the database on. Cannot change.",
        required: ["name"],
        properties: {
          name: { ...k8sName, description: "Name of the PostgresInstance." },
          namespace: {
            type: "string",
            minLength: 1,
            maxLength: 63,
            description:
              "Namespace of the PostgresInstance; this resource's own when not set. Another namespace must be admitted by the instance's kompost.chuge.li/allowed-namespaces annotation.",
          },
        },
      },
      clusterInstanceRef: {
        type: "object",
        title: "ClusterInstanceRef",
        description: "A PostgresClusterInstance to create the database on. Cannot change.",
        required: ["name"],
        properties: { name: { ...k8sName, description: "Name of the PostgresClusterInstance." } },
      },
      databaseNamingStrategy: {
        type: "string",
        enum: ["prefix_namespace", "resource_name"],
        description:
          "How the database is named: prefix_namespace (default) gives <namespace>_<name>, resource_name gives <name>. Cannot change.",
      },
      params: {
        type: "object",
        title: "DatabaseParams",
        description: "Parameters of CREATE DATABASE. Cannot change once the resource exists.",
        properties: {
          template: { type: "string", minLength: 1, maxLength: 63, description: "The database to copy." },
          encoding: {
            "x-kubernetes-int-or-string": true,
            anyOf: [{ type: "integer" }, { type: "string" }],
            description: "Character set encoding, by name (e.g. UTF8) or number.",
          },
          locale: {
            type: "string",
            minLength: 1,
            maxLength: 128,
            description: "Sets lc_collate and lc_ctype at once.",
          },
          lc_collate: { type: "string", minLength: 1, maxLength: 128, description: "Collation order (LC_COLLATE)." },
          lc_ctype: {
            type: "string",
            minLength: 1,
            maxLength: 128,
            description: "Character classification (LC_CTYPE).",
          },
          connection_limit: {
            type: "integer",
            minimum: -1,
            maximum: 1000000,
            description: "How many concurrent connections the database allows; -1 means no limit.",
          },
          is_template: { type: "boolean", description: "Whether any role with CREATEDB may clone this database." },
        },
      },
      secret: {
        type: "object",
        title: "ConnectionSecretSpec",
        description:
          "Additions to both connection Secrets (psql-<name>-app and -inspector): extra keys built from placeholders, and extra labels and annotations. Kompost's own keys, labels and annotations cannot be overridden.",
        properties: {
          extraKeys: {
            type: "object",
            maxProperties: 32,
            additionalProperties: { type: "string", maxLength: 8192 },
            // The schema cannot bound a map's keys but by a rule; a longer one is no Secret key.
            "x-kubernetes-validations": [
              { rule: "self.all(k, size(k) <= 253)", message: "a key is at most 253 characters" },
            ],
            description:
              "Secret key → template. {{host}}, {{port}}, {{database}}, {{user}}, {{password}}, {{sslmode}} and {{ca}} are replaced by the role's values (plain substitution, no escaping); any other {{...}} is refused.",
          },
          labels: {
            type: "object",
            maxProperties: 32,
            additionalProperties: { type: "string", maxLength: 63 },
            "x-kubernetes-validations": [
              { rule: "self.all(k, size(k) <= 317)", message: "a key is at most 317 characters" },
            ],
            description: "Extra labels on the Secrets.",
          },
          annotations: {
            type: "object",
            maxProperties: 32,
            additionalProperties: { type: "string", maxLength: 8192 },
            "x-kubernetes-validations": [
              { rule: "self.all(k, size(k) <= 317)", message: "a key is at most 317 characters" },
            ],
            description: "Extra annotations on the Secrets.",
          },
        },
      },
      passwordRotation: {
        type: "object",
        title: "PasswordRotation",
        description:
          "Rotates both roles' passwords on a schedule. The annotation kompost.chuge.li/rotate-password rotates them at once whenever its value changes.",
        properties: {
          every: {
            type: "string",
            pattern: "^[1-9][0-9]{0,5}(m|h|d)$",
            description:
              "How long a password lives before Kompost replaces it: a number and a unit, m (minutes), h (hours) or d (days), e.g. 90d. Overrides the instance's spec.passwordRotation.every.",
          },
        },
      },
      extensions: {
        type: "array",
        maxItems: 64,
        items: {
          // A bare name (the original Kompost's form) or {name, version, schema, ensure}: either is accepted,
          // so the item cannot have one structural type; the controller validates each (InvalidExtension).
          "x-kubernetes-preserve-unknown-fields": true,
          description:
            "An extension by name (a string), or an object {name, version?, schema?, ensure?}: version to install or update to (default: the server's default version), schema to install into (default: extensions, a schema only Kompost may create in), ensure present (default) or absent (drop it, if Kompost created it).",
        },
        description:
          "Extensions to create in the database with CREATE EXTENSION, as the admin. Each must be listed in the instance's spec.allowedExtensions. Removing one from this list leaves it installed; list it with ensure: absent to drop it.",
      },
    },
    "x-kubernetes-validations": [
      {
        rule: "has(self.instanceRef) != has(self.clusterInstanceRef)",
        message: "exactly one of instanceRef or clusterInstanceRef must be set",
      },
      {
        rule: unchanged("params"),
        message: "params cannot be changed once set: they only apply when the database is created",
      },
      {
        rule: `${strategyOf("self")} == ${strategyOf("oldSelf")}`,
        message: "databaseNamingStrategy cannot be changed: it decides the name of the existing database",
      },
      {
        rule: unchanged("instanceRef"),
        message:
          "instanceRef (name and namespace) cannot be changed: the database and its roles stay on the instance that created them; delete this resource and create a new one to move",
      },
      {
        rule: unchanged("clusterInstanceRef"),
        message:
          "clusterInstanceRef cannot be changed: the database and its roles stay on the instance that created them; delete this resource and create a new one to move",
      },
    ],
  },
  status: {
    type: "object",
    // Present from creation on, so that its observedGeneration default applies.
    default: {},
    properties: {
      observedGeneration: observedGenerationSchema,
      conditions: conditionsSchema,
      sql_db_name: { type: "string", maxLength: 63, description: "Name of the database on the server." },
      extensions: {
        type: "array",
        description: "The extensions of spec.extensions installed in the database, with their versions.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        items: {
          type: "object",
          title: "InstalledExtension",
          required: ["name", "version", "schema"],
          properties: {
            name: { type: "string", maxLength: 63, description: "Name of the extension." },
            version: { type: "string", maxLength: 63, description: "Installed version." },
            schema: { type: "string", maxLength: 63, description: "Schema holding its objects." },
          },
        },
      },
      users: {
        type: "array",
        description: "The roles created for this database and the Secrets holding their credentials.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["username"],
        items: {
          type: "object",
          title: "DatabaseUser",
          required: ["username", "secret"],
          properties: {
            username: { type: "string", maxLength: 63, description: "Name of the role." },
            secret: { type: "string", maxLength: 253, description: "Name of the Secret with its credentials." },
            passwordSetAt: {
              type: "string",
              format: "date-time",
              description:
                "When Kompost last set this role's password on the server (created, rotated, or reset to the Secret's DB_PASS).",
            },
            rotationToken: {
              type: "string",
              maxLength: 253,
              description:
                "The value of the kompost.chuge.li/rotate-password annotation this role's current password was made for.",
            },
          },
        },
      },
    },
  },
};
