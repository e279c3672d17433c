import { pino } from 'pino';
import type { Logger } from '../core/plugin.js';

/**
 * The service's log: pino JSON lines (one object per line, for journald, Loki, jq) when stdout is not a
 * terminal; short readable lines on a terminal. `SLUICE_LOG_LEVEL` sets the level (info by default).
 */
export function createServiceLogger(
  options: { json?: boolean; level?: string } = {},
): Logger & { flush(): void } {
  const level = options.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info';
  const json = options.json ?? !process.stdout.isTTY;
  if (json) {
    const log = pino({
      level,
      base: { pid: process.pid, service: 'sluice' },
      timestamp: pino.stdTimeFunctions.isoTime,
    });
    return {
      debug: (message, data) => log.debug(data ?? {}, message),
      info: (message, data) => log.info(data ?? {}, message),
      warn: (message, data) => log.warn(data ?? {}, message),
      error: (message, data) => log.error(data ?? {}, message),
      flush: () => log.flush(),
    };
  }
  const order = ['debug', 'info', 'warn', 'error'];
  const min = Math.max(0, order.indexOf(level));
  const line = (lvl: string) => (message: string) => {
    if (order.indexOf(lvl) < min) return;
    const time = new Date().toISOString().slice(11, 19);
    process.stdout.write(`${time} ${lvl === 'info' ? '' : `${lvl.toUpperCase()} `}${message}\n`);
  };
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    flush: () => {},
  };
}
