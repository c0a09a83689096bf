/** Turns the operator's JSON log lines into short lines for a terminal. */

const HEAD_FIELDS = new Set(["timestamp", "level", "message", "stack"]);

/**
 * Renders one JSON log line as `HH:MM:SS LEVEL message key=value ...` (the stack, if any, on
 * the lines below); a line that is not a JSON object is returned unchanged.
 */
export function formatLogLine(line: string): string {
  const entry = parseObject(line);
  if (!entry) return line;
  const time = typeof entry.timestamp === "string" ? clockTime(entry.timestamp) : "";
  const level = text(entry.level).toUpperCase().padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key]) => !HEAD_FIELDS.has(key))
    .map(([key, value]) => `${key}=${fieldValue(value)}`);
  const head = [time, level, text(entry.message), ...fields].filter((part) => part !== "").join(" ");
  return typeof entry.stack === "string" ? `${head}\n${indent(entry.stack)}` : head;
}

function text(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : fieldValue(value);
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** "2026-11-24T06:00:46.123Z" → "06:00:46" in local time; anything else as it is. */
function clockTime(timestamp: string): string {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  return date.toTimeString().slice(0, 8);
}

/** Bare words stay bare; strings with spaces or quotes, objects and arrays become JSON. */
function fieldValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
}
