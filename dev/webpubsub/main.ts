/**
 * Runs the Web PubSub stand-in on its own:
 *
 *   node --import tsx dev/webpubsub/main.ts [--port 8080] [--hub sis]...
 *
 * The access key comes from `WEBPUBSUB_ACCESS_KEY` (never a command-line argument, which
 * other local users could read from the process list); without it a random key is made for
 * this run. Prints the connection string and stops cleanly on Ctrl-C or SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startWebPubSubStandIn } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    hub: { type: 'string', multiple: true },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, not ${values.port}`);
  process.exit(2);
}
const accessKey = process.env.WEBPUBSUB_ACCESS_KEY ?? randomBytes(32).toString('base64');
const standIn = await startWebPubSubStandIn({
  host: '127.0.0.1',
  port,
  accessKey,
  ...(values.hub && values.hub.length > 0 ? { hubs: values.hub } : {}),
});
console.log(
  `Web PubSub stand-in on ${standIn.endpoint} (hubs: ${values.hub?.join(', ') ?? 'any'})`,
);
console.log(`WEBPUBSUB_CONNECTION_STRING=${standIn.connectionString}`);

const shutdown = () => {
  standIn.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
