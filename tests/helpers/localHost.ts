/** Runs `dev/start.ts` (the local host) as a child process, as a user runs `npm start`. */
import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from '../../dev/settings.js';

export interface RunningHost {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** Everything the process has printed so far (stdout and stderr). */
  output: () => string;
  /** What it has printed on stderr alone. */
  errors: () => string;
  exited: Promise<number | null>;
}

/** Starts the host with `env` over the current environment; resolves at its banner. */
export function startLocalHost(
  env: Record<string, string>,
  children: ChildProcess[],
  startupLimitMs = 60_000,
  options: {
    /**
     * Runs the host as the leader of a process group of its own, as a shell runs a foreground
     * job, so `process.kill(-pid, 'SIGINT')` is what Ctrl-C in a terminal does: a signal to
     * every process of the job, the host's children included.
     */
    processGroup?: boolean;
  } = {},
): Promise<RunningHost> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/start.ts'], {
    cwd: projectRoot,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup ?? false,
  });
  children.push(child);
  let output = '';
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => {
    errors += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  return new Promise<RunningHost>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`The local host printed no banner within ${startupLimitMs} ms:\n${output}`));
    }, startupLimitMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /http:\/\/127\.0\.0\.1:(\d+)\/api\b/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({
          child,
          base: `http://127.0.0.1:${match[1]}`,
          output: () => output,
          errors: () => errors,
          exited,
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`The local host exited with ${code} before its banner:\n${output}`));
    });
  });
}

/**
 * Settings that make `dev/start.ts` run every service itself, on free ports: the private
 * MariaDB is replaced by `mysqlUrl`, the dev issuer signs tokens, and the Cosmos, Event Hubs,
 * Web PubSub and Azurite stand-ins start here (Azurite cannot pick its own ports).
 */
export function allLocalEnv(options: {
  dataDir: string;
  mysqlUrl: string;
  azuritePorts: string;
}): Record<string, string> {
  return {
    LOCAL_DATA_DIR: options.dataDir,
    MYSQL_URL: options.mysqlUrl,
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
    LOCAL_AZURITE_PORTS: options.azuritePorts,
  };
}
