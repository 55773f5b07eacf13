import { ConsoleLogger, Logger, LoggerService, LogLevel } from '@nestjs/common';
import pino from 'pino';
import { currentRequestId } from './request-context';

export type LogFormat = 'auto' | 'json' | 'pretty';
type NestLevel = 'error' | 'warn' | 'log' | 'debug' | 'verbose';

const ORDER: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const PINO_LEVEL: Record<NestLevel, pino.Level> = { error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

/** Nest's contexts that announce every route at start (~50 lines that bury what matters): debug. */
const ROUTE_MAPPING = new Set(['RouterExplorer', 'RoutesResolver']);

function isRouteMapping(params: unknown[]): boolean {
  const context = params.at(-1);
  return typeof context === 'string' && ROUTE_MAPPING.has(context);
}

/** JSON lines for machines (LOG_FORMAT=json, or output that is not a terminal); text for people. */
export function resolveLogFormat(format: LogFormat, isTty = Boolean(process.stdout.isTTY)): 'json' | 'pretty' {
  if (format === 'auto') return isTty ? 'pretty' : 'json';
  return format;
}

function text(message: unknown): string {
  if (message instanceof Error) return message.message;
  return typeof message === 'string' ? message : JSON.stringify(message);
}

/** Nest's optional params end with the context (a string); an error's stack comes before it. */
function split(params: unknown[]): { context?: string; rest: unknown[] } {
  const last = params.at(-1);
  return typeof last === 'string' && params.length > 0 ? { context: last, rest: params.slice(0, -1) } : { rest: params };
}

/**
 * One JSON object a line (pino): time, level, context (api, controller, agent, …), msg, and the
 * request id of the work being done when there is one, so that one operation can be followed
 * from the API through the controller and the agent to the driver.
 */
export class JsonLogger implements LoggerService {
  private readonly pino: pino.Logger;

  constructor(level: NestLevel, destination: pino.DestinationStream = pino.destination({ fd: 1, sync: true })) {
    this.pino = pino(
      {
        level: PINO_LEVEL[level],
        base: { pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        mixin: () => {
          const requestId = currentRequestId();
          return requestId ? { requestId } : {};
        },
      },
      destination,
    );
  }

  private write(level: pino.Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const { context, rest } = split(params);
    const stack = level === 'error' || level === 'fatal' ? rest.find((p) => typeof p === 'string') : undefined;
    const err = message instanceof Error ? { err: message } : {};
    // A plain object is a structured line: its fields go into the JSON, its `msg` is the message.
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      const { msg, ...fields } = message as Record<string, unknown>;
      this.pino[level]({ ...(context ? { context } : {}), ...fields }, typeof msg === 'string' ? msg : '');
      return;
    }
    this.pino[level]({ ...(context ? { context } : {}), ...(stack ? { stack } : {}), ...err }, text(message));
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write(isRouteMapping(params) ? 'debug' : 'info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
}

/** Nest's coloured text, with the request id appended when there is one. */
export class PrettyLogger extends ConsoleLogger {
  override log(message: unknown, ...params: unknown[]): void {
    if (isRouteMapping(params)) super.debug(message, ...params);
    else super.log(message, ...params);
  }

  protected override formatMessage(logLevel: LogLevel, message: unknown, pidMessage: string, formattedLogLevel: string, contextMessage: string, timestampDiff: string): string {
    const requestId = currentRequestId();
    const shown = requestId && typeof message === 'string' ? `${message} [request ${requestId}]` : message;
    return super.formatMessage(logLevel, shown, pidMessage, formattedLogLevel, contextMessage, timestampDiff);
  }
}

const made = new Map<string, LoggerService>();

/** The process's logger for LOG_LEVEL and LOG_FORMAT (one per setting: the all-in-one's three parts share it). */
export function createAppLogger(config: { LOG_LEVEL: NestLevel; LOG_FORMAT: LogFormat }): LoggerService {
  const format = resolveLogFormat(config.LOG_FORMAT);
  const key = `${format}/${config.LOG_LEVEL}`;
  let logger = made.get(key);
  if (!logger) {
    logger = format === 'json' ? new JsonLogger(config.LOG_LEVEL) : new PrettyLogger('hyperplane', { logLevels: ORDER.slice(0, ORDER.indexOf(config.LOG_LEVEL) + 1) });
    made.set(key, logger);
  }
  return logger;
}

/**
 * Makes it the logger of every `new Logger(context)` in the process (the agent is not a Nest
 * application; the api and controller get it through NestFactory as well).
 */
export function installAppLogger(config: { LOG_LEVEL: NestLevel; LOG_FORMAT: LogFormat }): LoggerService {
  const logger = createAppLogger(config);
  Logger.overrideLogger(logger);
  return logger;
}
