/**
 * One root structured logger (JSON lines on stderr, so stdout stays free for data such as flow records);
 * components take a child: `log.child({ component: 'publisher' })`. Errors are logged whole under `err`
 * (`log.warn({ err }, '…')`): the serializer keeps type, message, stack and `code`.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** `destination`: stderr unless given (tests read what was logged). */
export function createLogger(level: string = process.env.NETSENSOR_LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  return pino({ level, base: { app: 'netsensor' }, serializers: { err: pino.stdSerializers.err } }, destination ?? pino.destination({ fd: 2, sync: true }));
}

export const log: Logger = createLogger();
