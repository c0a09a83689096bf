import winston from "winston";

/** A structured logger; `child` adds fields (controller, namespace, name) to every line. */
export type Logger = winston.Logger;

/** Creates the process logger: one JSON object per line on stderr. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? "info"): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [
      new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug", "verbose", "silly"] }),
    ],
  });
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
