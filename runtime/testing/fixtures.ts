import { randomBytes } from "node:crypto";
import { createLogger, silentLogger, type Logger } from "../logger.js";

/** A namespace name that no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** The logger for runtime tests: silent unless TEST_LOG_LEVEL is set (e.g. "debug"). */
export function testLogger(): Logger {
  const level = process.env.TEST_LOG_LEVEL;
  return level ? createLogger(level) : silentLogger();
}
