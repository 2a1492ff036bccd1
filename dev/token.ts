/**
 * `npm run token -- --role Admin` or `npm run token -- --role Technician --sub tech-alice`:
 * prints a bearer token signed by the local dev issuer.
 */
import { parseArgs } from 'node:util';
import { roles, type Role } from '../lib/auth.js';
import { loadLocalDevIssuer } from './localStack.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string', multiple: true },
    sub: { type: 'string' },
    expires: { type: 'string', default: '8h' },
  },
});

const chosen = values.role ?? ['Admin'];
const unknown = chosen.filter((role) => !roles.includes(role as Role));
if (unknown.length) {
  console.error(`Unknown role(s): ${unknown.join(', ')}. Use ${roles.join(' or ')}.`);
  process.exit(2);
}
const issuer = await loadLocalDevIssuer();
if (!issuer) {
  console.error(
    'AUTH_ISSUER is set, so the app trusts that issuer, not the dev issuer: get a token from it instead.',
  );
  process.exit(2);
}
const subject = values.sub ?? (chosen.includes('Admin') ? 'dev-admin' : 'tech-alice');
console.log(await issuer.sign({ sub: subject, roles: chosen }, values.expires));
