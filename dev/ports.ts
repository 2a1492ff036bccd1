/** Free loopback ports, for servers that cannot bind port 0 themselves (Azurite, MariaDB). */
import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on: bound, then released. Use it for a server started
 * next, or as an address where connections are refused.
 */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}
