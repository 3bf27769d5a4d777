// Structured logs: one JSON object per line with a message and correlation fields (`runId`,
// `exportId`, `chunk`, `provider`). The value of a field whose name suggests a secret is never
// written: it reads `[redacted]`.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

export interface LogRecord extends LogFields {
  level: LogLevel;
  message: string;
  time: string;
}

export type LogSink = (record: LogRecord) => void;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const SECRET_FIELD = /(api[-_]?key|secret|password|token|authorization|credential)/i;
export const REDACTED = '[redacted]';

export const consoleSink: LogSink = (record) => {
  const line = JSON.stringify(record);
  if (record.level === 'error' || record.level === 'warn') console.error(line);
  else console.log(line);
};

export function createLogger(sink: LogSink = consoleSink, base: LogFields = {}, minLevel: LogLevel = 'info'): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const write = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (order[level] < order[minLevel]) return;
    sink({ ...redact({ ...base, ...fields }), level, message, time: new Date().toISOString() });
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (fields) => createLogger(sink, { ...base, ...fields }, minLevel),
  };
}

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(name)) out[name] = REDACTED;
    else if (value instanceof Error) out[name] = describeError(value);
    else out[name] = value;
  }
  return out;
}

/** An error as log fields: name, code and message, and the cause chain; never a request body. */
export function describeError(error: Error): LogFields {
  const described: LogFields = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') described.code = code;
  if (error.cause instanceof Error) described.cause = describeError(error.cause);
  return described;
}
