/** The processes on this machine, read from /proc (Linux): for tests that check what runs. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  parent: number;
  state: string;
  command: string;
}

/** Every process on the machine, from /proc. */
export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
      const [state = '', parent = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      found.push({ pid: Number(entry), parent: Number(parent), state, command });
    } catch {
      // Gone while listing.
    }
  }
  return found;
}

/** The processes `pid` started, and theirs, recursively. */
export function descendantsOf(pid: number): ProcessInfo[] {
  const all = processes();
  const result: ProcessInfo[] = [];
  let parents = new Set([pid]);
  while (parents.size > 0) {
    const next = all.filter((p) => parents.has(p.parent));
    result.push(...next);
    parents = new Set(next.map((p) => p.pid));
  }
  return result;
}

/** Whether `pid` still runs (a zombie has stopped; only its exit status is left). */
export function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * The running processes (zombies excluded) whose environment holds `variable=value`: what a
 * process started, and theirs, inherit it, even once orphaned and adopted by init. Processes
 * of other users, whose environment cannot be read, are never among them.
 */
export function processesWithEnv(variable: string, value: string): ProcessInfo[] {
  const entry = `${variable}=${value}`;
  return processes().filter((p) => {
    if (p.state === 'Z') return false;
    try {
      return readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0').includes(entry);
    } catch {
      return false;
    }
  });
}
