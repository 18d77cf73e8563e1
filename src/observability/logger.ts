import pino, { type Logger } from 'pino';

/**
 * The one root logger. Request inputs never reach it: handlers log ids, counts and timings, and the
 * redaction below guards the headers if a request object is ever logged.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: ['req.headers.authorization', 'req.headers.cookie', 'text', 'body'],
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
