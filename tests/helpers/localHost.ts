/** Runs `dev/start.ts` (the local host) as a child process, as a user runs `npm start`. */
import { startScript, type RunningScript } from '../../dev/child.js';

export interface RunningHost extends RunningScript {
  /** `http://127.0.0.1:PORT` */
  base: string;
}

/**
 * Starts the host with `env` over the current environment; resolves at its banner. It runs
 * as the leader of a process group of its own, as a shell runs a foreground job, so
 * `process.kill(-pid, 'SIGINT')` is what Ctrl-C in a terminal does: a signal to every
 * process of the job, the host's children included. `stop()` is Ctrl-C, then a kill of the
 * whole group, so what the host started (Azurite, MariaDB) never outlives a test, even one
 * that killed the host.
 */
export async function startLocalHost(
  env: Record<string, string>,
  startupLimitMs = 60_000,
): Promise<RunningHost> {
  const host = await startScript({
    script: 'dev/start.ts',
    env: { PORT: '0', ...env },
    readyLine: /http:\/\/127\.0\.0\.1:(\d+)\/api\b/,
    limitMs: startupLimitMs,
    stopSignal: 'SIGINT',
    processGroup: true,
  });
  return { ...host, base: `http://127.0.0.1:${host.ready}` };
}

/**
 * Settings that make `dev/start.ts` run every service itself, on free ports: the private
 * MariaDB is replaced by `mysqlUrl`, the dev issuer signs tokens, and a private Redis and the
 * Cosmos, Event Hubs, Web PubSub, Communication Services and Azurite stand-ins start here
 * (Azurite cannot pick its own ports).
 */
export function allLocalEnv(options: {
  dataDir: string;
  mysqlUrl: string;
  azuritePorts: string;
}): Record<string, string> {
  return {
    LOCAL_DATA_DIR: options.dataDir,
    MYSQL_URL: options.mysqlUrl,
    REDIS_URL: '',
    LOCAL_REDIS_PORT: '0',
    AUTH_ISSUER: '',
    AUTH_AUDIENCE: '',
    AUTH_JWKS_URI: '',
    AUTH_TRUST_PLATFORM_PRINCIPAL: '',
    COSMOS__accountEndpoint: '',
    COSMOS_KEY: '',
    COSMOS_CA_CERT_FILE: '',
    COSMOS_DATABASE: '',
    LOCAL_COSMOS_PORT: '0',
    AzureWebJobsStorage: '',
    EventHubConnection: '',
    WEBPUBSUB__endpoint: '',
    WEBPUBSUB_KEY: '',
    LOCAL_EVENTHUBS_PORT: '0',
    LOCAL_WEBPUBSUB_PORT: '0',
    COMMUNICATION_CONNECTION: '',
    COMMUNICATION__endpoint: '',
    EMAIL_SENDER_ADDRESS: '',
    SMS_FROM_NUMBER: '',
    APP_PUBLIC_URL: '',
    LOCAL_COMMUNICATION_PORT: '0',
    LOCAL_AZURITE_PORTS: options.azuritePorts,
    // Hosts run side by side: none takes 9464 unless its test asks for metrics.
    METRICS_PORT: '0',
  };
}
