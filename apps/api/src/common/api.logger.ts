import { ConsoleLogger, LogLevel } from '@nestjs/common';

/** Nest's contexts that announce every route at start (~50 lines that bury what matters). */
const ROUTE_MAPPING = new Set(['RouterExplorer', 'RoutesResolver']);

/** Nest's console logger, with route mapping at debug level: start-up output stays short. */
export class ApiLogger extends ConsoleLogger {
  constructor(levels: LogLevel[]) {
    super({ logLevels: levels });
  }

  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest.at(-1);
    if (typeof context === 'string' && ROUTE_MAPPING.has(context)) {
      super.debug(message, ...rest);
      return;
    }
    super.log(message, ...rest);
  }
}
