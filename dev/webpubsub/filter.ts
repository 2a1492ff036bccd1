/**
 * The OData filter subset the service documents for `filter` on sends and on
 * `:addToGroups` / `:removeFromGroups`: `userId` and `connectionId` compared with `eq`, `ne`,
 * `gt`, `ge`, `lt`, `le` against string literals or `null`; `'<group>' in groups`; `not`,
 * `and`, `or` and parentheses. String literals use single quotes, with `''` for a quote (what
 * the SDK's `odata` helper produces). Anything else is a syntax error, reported as a 400.
 */

/** What a filter can see of a connection. */
export interface FilterSubject {
  id: string;
  userId: string | undefined;
  groups: ReadonlySet<string>;
}

/** A compiled filter. */
export type ConnectionFilter = (subject: FilterSubject) => boolean;

/** A filter the stand-in cannot parse; its message is returned to the caller. */
export class FilterSyntaxError extends Error {
  override readonly name = 'FilterSyntaxError';
}

type Token =
  | { kind: 'string'; value: string }
  | { kind: 'word'; value: string }
  | { kind: 'open' }
  | { kind: 'close' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text.charAt(i);
    if (/\s/.test(char)) {
      i++;
    } else if (char === '(' || char === ')') {
      tokens.push({ kind: char === '(' ? 'open' : 'close' });
      i++;
    } else if (char === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new FilterSyntaxError('Unterminated string literal.');
        const next = text.charAt(i);
        if (next === "'") {
          if (text.charAt(i + 1) === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += next;
        i++;
      }
      tokens.push({ kind: 'string', value });
    } else {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
      if (!match) throw new FilterSyntaxError(`Unexpected character '${char}' at ${i}.`);
      tokens.push({ kind: 'word', value: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

type Operand = (subject: FilterSubject) => string | null;
const comparisons: Record<string, (left: string | null, right: string | null) => boolean> = {
  eq: (left, right) => left === right,
  ne: (left, right) => left !== right,
  gt: (left, right) => left !== null && right !== null && left > right,
  ge: (left, right) => left !== null && right !== null && left >= right,
  lt: (left, right) => left !== null && right !== null && left < right,
  le: (left, right) => left !== null && right !== null && left <= right,
};

/** Parses `text` into a filter; throws {@link FilterSyntaxError} on anything unsupported. */
export function parseFilter(text: string): ConnectionFilter {
  const tokens = tokenize(text);
  let position = 0;
  const peek = () => tokens[position];
  const isWord = (token: Token | undefined, value: string) =>
    token?.kind === 'word' && token.value.toLowerCase() === value;

  function operand(): Operand {
    const token = tokens[position++];
    if (!token) throw new FilterSyntaxError('Unexpected end of filter.');
    if (token.kind === 'string') return () => token.value;
    if (token.kind === 'word') {
      const word = token.value.toLowerCase();
      if (word === 'null') return () => null;
      if (word === 'userid') return (subject) => subject.userId ?? null;
      if (word === 'connectionid') return (subject) => subject.id;
    }
    throw new FilterSyntaxError(`Unsupported operand at token ${position}.`);
  }

  function primary(): ConnectionFilter {
    const token = peek();
    if (token?.kind === 'open') {
      position++;
      const inner = or();
      if (peek()?.kind !== 'close') throw new FilterSyntaxError('Missing closing parenthesis.');
      position++;
      return inner;
    }
    if (token?.kind === 'string' && isWord(tokens[position + 1], 'in')) {
      position += 2;
      if (!isWord(tokens[position], 'groups')) {
        throw new FilterSyntaxError("Only '<group>' in groups is supported.");
      }
      position++;
      const group = token.value;
      return (subject) => subject.groups.has(group);
    }
    const left = operand();
    const op = tokens[position++];
    const compare = op?.kind === 'word' ? comparisons[op.value.toLowerCase()] : undefined;
    if (!compare) throw new FilterSyntaxError(`Expected a comparison operator at ${position}.`);
    const right = operand();
    return (subject) => compare(left(subject), right(subject));
  }

  function unary(): ConnectionFilter {
    if (isWord(peek(), 'not')) {
      position++;
      const inner = unary();
      return (subject) => !inner(subject);
    }
    return primary();
  }

  function and(): ConnectionFilter {
    let result = unary();
    while (isWord(peek(), 'and')) {
      position++;
      const left = result;
      const right = unary();
      result = (subject) => left(subject) && right(subject);
    }
    return result;
  }

  function or(): ConnectionFilter {
    let result = and();
    while (isWord(peek(), 'or')) {
      position++;
      const left = result;
      const right = and();
      result = (subject) => left(subject) || right(subject);
    }
    return result;
  }

  if (tokens.length === 0) throw new FilterSyntaxError('Empty filter.');
  const filter = or();
  if (position !== tokens.length) throw new FilterSyntaxError(`Unexpected token at ${position}.`);
  return filter;
}
