/**
 * The stand-in's pure pieces: the OData filter subset and the audience comparison that both
 * REST and client tokens rely on.
 */
import { odata } from '@azure/web-pubsub';
import { describe, expect, it } from 'vitest';
import { audienceMatches } from '../../../dev/webpubsub/auth.js';
import { FilterSyntaxError, parseFilter } from '../../../dev/webpubsub/filter.js';

const alice = { id: 'c1', userId: "o'neil", groups: new Set(['a', 'b']) };
const anonymous = { id: 'c2', userId: undefined, groups: new Set<string>() };

describe('OData filters', () => {
  it.each([
    ["userId eq 'o''neil'", true, false],
    [odata`userId eq ${"o'neil"}`, true, false],
    ['userId eq null', false, true],
    ["userId ne 'x'", true, true],
    ["connectionId eq 'c2'", false, true],
    ["'a' in groups", true, false],
    ["not ('a' in groups)", false, true],
    ["'a' in groups and 'b' in groups", true, false],
    ["'z' in groups or connectionId eq 'c2'", false, true],
    ["NOT('a' in groups) OR userId GT 'n'", true, true],
    ["(userId eq 'x' or userId eq 'o''neil') and not (connectionId eq 'c9')", true, false],
  ])('%s', (text, forAlice, forAnonymous) => {
    const filter = parseFilter(text);
    expect(filter(alice)).toBe(forAlice);
    expect(filter(anonymous)).toBe(forAnonymous);
  });

  it.each([
    '',
    'userId',
    "userId eq 'open",
    "userId like 'a'",
    "('a' in groups",
    "'a' in users",
    'x eq y',
    "userId eq 'a' extra",
  ])('rejects %j', (text) => {
    expect(() => parseFilter(text)).toThrow(FilterSyntaxError);
  });
});

describe('audience', () => {
  const expected = new URL('http://127.0.0.1:8080/api/hubs/sis/:send?api-version=2024-12-01');
  it.each([
    ['http://127.0.0.1:8080/api/hubs/sis/:send?api-version=2024-12-01', true],
    ['http://127.0.0.1:8080/api/hubs/sis/:send', true],
    ['http://127.0.0.1:8080/api/hubs/sis/:send/', true],
    ['ws://127.0.0.1:8080/api/hubs/sis/:send', true],
    ['https://127.0.0.1:8080/api/hubs/sis/:send', false],
    ['http://127.0.0.1:8081/api/hubs/sis/:send', false],
    ['http://127.0.0.1:8080/api/hubs/sis/groups/g/:send', false],
    ['not a url', false],
  ])('%s matches: %s', (audience, matches) => {
    expect(audienceMatches(audience, expected)).toBe(matches);
  });
});
