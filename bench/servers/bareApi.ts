/**
 * The baseline of `api_get_ratio`: a bare `node:http` server with a `mysql2` pool of the
 * same size as the app's, answering `GET /api/equipment/{id}` with the same query and the
 * row as JSON, and nothing else (no auth, no validation, no problem documents). Prints
 * `listening PORT`; stops on SIGTERM.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPool, type RowDataPacket } from 'mysql2/promise';

const url = new URL(process.env['MYSQL_URL'] ?? '');
const pool = createPool({
  host: url.hostname,
  port: Number(url.port),
  user: decodeURIComponent(url.username),
  database: url.pathname.slice(1),
  connectionLimit: Number(process.env['MYSQL_POOL_SIZE'] ?? 10),
  timezone: 'Z',
  dateStrings: ['DATE'],
});
const sql =
  'SELECT id, serial_number, name, type, manufacturer, model, location, status, commissioned_on, version, created_at, updated_at FROM equipment WHERE id = ?';

const server = createServer((req, res) => {
  const match = /^\/api\/equipment\/(\d+)$/.exec(req.url ?? '');
  if (!match) {
    res.writeHead(404).end();
    return;
  }
  pool.query<RowDataPacket[]>(sql, [Number(match[1])]).then(
    ([rows]) => {
      const row = rows[0];
      if (!row) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(row));
    },
    () => res.writeHead(500).end(),
  );
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().then(() => process.exit(0));
});
