/**
 * A gateway in a process of its own, for tests that must see whether it survives an input (an uncaught error
 * would end the test runner too, hiding what happened). argv[2]: the gateway config flags as JSON. Prints
 * `ready <mqttPort> <httpPort> <pid>` once listening; SIGTERM stops it cleanly (exit 0).
 */
import { createLogger } from '../../common/log.ts';
import { loadConfig } from '../../gateway/config.ts';
import { Gateway } from '../../gateway/index.ts';

const gw = await Gateway.start(loadConfig({ flags: JSON.parse(process.argv[2] ?? '{}') }), createLogger(process.env.TEST_LOG_LEVEL ?? 'warn'));
process.stdout.write(`ready ${gw.mqttPort} ${gw.httpPort} ${process.pid}\n`);
process.once('SIGTERM', () => { void gw.stop().then(() => process.exit(0)); });
