import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { metricNames, type MetricName } from '../../../lib/telemetry/reading.js';
import {
  breachGuidance,
  clearThresholdOf,
  defaultSeverityRules,
  gradeWindow,
  maxSeverity,
  parseSeverityRules,
  rulesFor,
  severities,
  severityRank,
  severityRulesSchema,
  SeverityRulesError,
  type Severity,
} from '../../../lib/telemetry/severity.js';

const defaults = rulesFor(defaultSeverityRules);

/** The problems of a rules setting that must be refused. */
function problemsOf(json: string): { path: string; message: string }[] {
  try {
    parseSeverityRules(json);
  } catch (error) {
    expect(error).toBeInstanceOf(SeverityRulesError);
    const rulesError = error as SeverityRulesError;
    for (const problem of rulesError.problems) {
      expect(rulesError.message).toContain(problem.message);
      if (problem.path) expect(rulesError.message).toContain(problem.path);
    }
    return [...rulesError.problems];
  }
  throw new Error(`parseSeverityRules accepted ${json}`);
}

const rule = (
  direction: string,
  medium: unknown,
  high: unknown,
  critical: unknown,
  clear?: unknown,
) => ({ direction, medium, high, critical, ...(clear === undefined ? {} : { clear }) });
const defaultJson = {
  temperature: rule('above', 75, 80, 90, 70),
  vibration: rule('above', 4, 5, 7, 3.5),
  pressure: rule('below', 12, 10, 5, 13),
};

describe('severities', () => {
  it('are ordered medium < high < critical, with none below all', () => {
    expect(severities).toEqual(['medium', 'high', 'critical']);
    expect(severities.map(severityRank)).toEqual([1, 2, 3]);
    expect(severityRank(null)).toBe(0);
    expect(maxSeverity('high', 'medium')).toBe('high');
    expect(maxSeverity('medium', 'critical')).toBe('critical');
    expect(maxSeverity(null, 'medium')).toBe('medium');
    expect(maxSeverity(null, null)).toBeNull();
  });
});

describe('default rules', () => {
  it('are the seed design thresholds', () => {
    expect(defaultSeverityRules).toStrictEqual({ default: defaultJson });
  });

  it('cannot be changed by accident', () => {
    expect(() => {
      (defaultSeverityRules.default.temperature as { high: number }).high = 1;
    }).toThrow(TypeError);
  });

  it('come back from an unset, empty or blank setting as a fresh copy', () => {
    for (const json of [undefined, '', '  \n']) {
      const rules = parseSeverityRules(json);
      expect(rules).toStrictEqual(defaultSeverityRules);
      rules.default.temperature.high = 1;
      expect(defaultSeverityRules.default.temperature.high).toBe(80);
    }
    expect(parseSeverityRules('{}')).toStrictEqual(defaultSeverityRules);
  });
});

describe('gradeWindow: every rule edge', () => {
  const cases: [MetricName, number, Severity | null][] = [
    ['temperature', 75, null],
    ['temperature', 75.0001, 'medium'],
    ['temperature', 79.9999, 'medium'],
    ['temperature', 80, 'medium'],
    ['temperature', 80.0001, 'high'],
    ['temperature', 90, 'high'],
    ['temperature', 90.0001, 'critical'],
    ['temperature', 250, 'critical'],
    ['temperature', -60, null],
    ['vibration', 4.0, null],
    ['vibration', 4.0001, 'medium'],
    ['vibration', 5.0, 'medium'],
    ['vibration', 5.0001, 'high'],
    ['vibration', 7.0, 'high'],
    ['vibration', 7.0001, 'critical'],
    ['pressure', 12, null],
    ['pressure', 11.9999, 'medium'],
    ['pressure', 10, 'medium'],
    ['pressure', 9.9999, 'high'],
    ['pressure', 5, 'high'],
    ['pressure', 4.9999, 'critical'],
    ['pressure', 0, 'critical'],
    ['pressure', 1000, null],
  ];

  it.each(cases)('mean %s %s grades %s', (metric, mean, expected) => {
    const result = gradeWindow({ [metric]: mean }, defaults);
    expect(result.severity).toBe(expected);
    expect(result.breaches.map((b) => [b.metric, b.severity])).toEqual(
      expected === null ? [] : [[metric, expected]],
    );
  });

  it('records the threshold crossed, the comparison and the unit', () => {
    expect(gradeWindow({ pressure: 4.9999 }, defaults).breaches[0]).toMatchObject({
      metric: 'pressure',
      severity: 'critical',
      mean: 4.9999,
      threshold: 5,
      comparison: '<',
      unit: 'psi',
    });
    expect(gradeWindow({ temperature: 80.0001 }, defaults).breaches[0]).toMatchObject({
      threshold: 80,
      comparison: '>',
      unit: '°C',
    });
    expect(gradeWindow({ vibration: 6 }, defaults).breaches[0]).toMatchObject({
      threshold: 5,
      unit: 'mm/s',
    });
  });

  it('reports each breached metric once, worst first, and grades the window at the worst', () => {
    const result = gradeWindow({ temperature: 76, vibration: 7.5, pressure: 9 }, defaults);
    expect(result.severity).toBe('critical');
    expect(result.breaches.map((b) => [b.metric, b.severity])).toEqual([
      ['vibration', 'critical'],
      ['pressure', 'high'],
      ['temperature', 'medium'],
    ]);
    const tie = gradeWindow({ pressure: 11, temperature: 76 }, defaults);
    expect(tie.breaches.map((b) => b.metric)).toEqual(['temperature', 'pressure']);
  });

  it('grades nothing without means, and skips non-finite ones', () => {
    expect(gradeWindow({}, defaults)).toStrictEqual({ severity: null, breaches: [] });
    expect(gradeWindow({ temperature: Number.NaN, vibration: 1 }, defaults)).toStrictEqual({
      severity: null,
      breaches: [],
    });
  });

  it('accepts a whole rules setting, meaning its defaults', () => {
    expect(gradeWindow({ temperature: 85 }, defaultSeverityRules).severity).toBe('high');
  });
});

describe('descriptions and recommended actions', () => {
  it('has concrete guidance for every metric and severity', () => {
    const actions = new Set<string>();
    for (const metric of metricNames) {
      for (const severity of severities) {
        const guidance = breachGuidance[metric][severity];
        expect(guidance.title.length).toBeGreaterThan(5);
        expect(guidance.risk.length).toBeGreaterThan(20);
        expect(guidance.recommendedAction.length).toBeGreaterThan(40);
        actions.add(guidance.recommendedAction);
      }
    }
    expect(actions.size).toBe(metricNames.length * severities.length);
  });

  it('tells a technician to stop and cool an overheating machine', () => {
    const [breach] = gradeWindow({ temperature: 92.5 }, defaults).breaches;
    expect(breach!.recommendedAction).toContain(
      'Stop the machine and let it cool; check coolant level, radiator and fan before restart',
    );
    expect(breach!.description).toBe(
      'Severe overheating: mean temperature 92.5 °C over the window is above the critical threshold of 90 °C. ' +
        breachGuidance.temperature.critical.risk,
    );
  });

  it('words below-threshold breaches as below', () => {
    const [breach] = gradeWindow({ pressure: 9.25 }, defaults).breaches;
    expect(breach!.description).toContain(
      'mean pressure 9.25 psi over the window is below the high threshold of 10 psi',
    );
    expect(breach!.recommendedAction).toBe(breachGuidance.pressure.high.recommendedAction);
  });

  it('never prints a mean that looks equal to the threshold it crossed', () => {
    const [breach] = gradeWindow({ temperature: 80.00001 }, defaults).breaches;
    expect(breach!.description).toContain('80.00001 °C');
    const [long] = gradeWindow({ temperature: 85.123456789 }, defaults).breaches;
    expect(long!.description).toContain('85.1235 °C');
  });
});

describe('rulesFor: per-type overrides', () => {
  const rules = parseSeverityRules(
    JSON.stringify({
      byEquipmentType: {
        Compressor: { pressure: { high: 9, critical: 8 } },
        crusher: { vibration: { medium: 6, high: 8, critical: 11 }, temperature: { critical: 95 } },
      },
    }),
  );

  it('uses the defaults without a type or for an unknown type', () => {
    expect(rulesFor(rules)).toStrictEqual(defaultJson);
    expect(rulesFor(rules, null)).toStrictEqual(defaultJson);
    expect(rulesFor(rules, 'excavator')).toStrictEqual(defaultJson);
  });

  it('changes only the overridden thresholds, matching the type ignoring case and spaces', () => {
    for (const type of ['Compressor', 'compressor', ' COMPRESSOR ']) {
      expect(rulesFor(rules, type)).toStrictEqual({
        ...defaultJson,
        pressure: rule('below', 12, 9, 8, 13),
      });
    }
    expect(rulesFor(rules, 'crusher')).toStrictEqual({
      temperature: rule('above', 75, 80, 95, 70),
      // A new medium without its own clear threshold drops the inherited one (margin).
      vibration: rule('above', 6, 8, 11),
      pressure: defaultJson.pressure,
    });
  });

  it('grades with the equipment type in force', () => {
    expect(gradeWindow({ pressure: 8.5 }, rulesFor(rules, 'compressor')).severity).toBe('high');
    expect(gradeWindow({ pressure: 7.5 }, rulesFor(rules, 'compressor')).severity).toBe('critical');
    expect(gradeWindow({ pressure: 7.5 }, rulesFor(rules, 'excavator')).severity).toBe('high');
    expect(gradeWindow({ vibration: 7.5 }, rulesFor(rules, 'crusher')).severity).toBe('medium');
    expect(gradeWindow({ vibration: 7.5 }, rulesFor(rules)).severity).toBe('critical');
    expect(gradeWindow({ temperature: 92 }, rulesFor(rules, 'crusher')).severity).toBe('high');
  });

  it('returns fresh objects', () => {
    const resolved = rulesFor(rules, 'compressor');
    resolved.pressure.high = 1;
    expect(rulesFor(rules, 'compressor').pressure.high).toBe(9);
    expect(rules.default.pressure.high).toBe(10);
  });

  it('accepts a complete custom default', () => {
    const custom = parseSeverityRules(
      JSON.stringify({ default: { ...defaultJson, temperature: rule('above', 60, 70, 85) } }),
    );
    expect(gradeWindow({ temperature: 72 }, rulesFor(custom)).severity).toBe('high');
    expect(severityRulesSchema.parse({}).default).toStrictEqual(defaultJson);
  });
});

describe('clear thresholds', () => {
  it('default to a margin inside medium per metric, lower-is-worse for pressure', () => {
    expect(metricNames.map((m) => clearThresholdOf(m, defaults[m]))).toEqual([70, 3.5, 13]);
    const bare = parseSeverityRules(
      JSON.stringify({
        default: {
          temperature: rule('above', 60, 70, 85),
          vibration: rule('above', 3, 5, 7),
          pressure: rule('below', 20, 10, 5),
        },
      }),
    );
    const resolved = rulesFor(bare);
    expect(metricNames.map((m) => clearThresholdOf(m, resolved[m]))).toEqual([55, 2.5, 21]);
  });

  it('are overridden per equipment type, and follow a new medium that gives none', () => {
    const rules = parseSeverityRules(
      JSON.stringify({
        byEquipmentType: {
          oven: { temperature: { clear: 74 } },
          press: { temperature: { medium: 60, high: 65, critical: 70 } },
        },
      }),
    );
    expect(clearThresholdOf('temperature', rulesFor(rules, 'oven').temperature)).toBe(74);
    expect(clearThresholdOf('temperature', rulesFor(rules, 'press').temperature)).toBe(55);
    expect(clearThresholdOf('temperature', rulesFor(rules, 'other').temperature)).toBe(70);
  });
});

describe('parseSeverityRules: refused settings name each problem', () => {
  it('refuses text that is not JSON', () => {
    const [problem, ...rest] = problemsOf('{"default":');
    expect(rest).toEqual([]);
    expect(problem!.path).toBe('');
    expect(problem!.message).toMatch(/^Not valid JSON: /);
  });

  it('refuses a setting that is not an object', () => {
    expect(problemsOf('[]')).toEqual([{ path: '', message: 'Expected an object' }]);
    expect(problemsOf('42')).toEqual([{ path: '', message: 'Expected an object' }]);
  });

  it('refuses thresholds that are not monotonic, including equal ones', () => {
    const json = JSON.stringify({
      default: {
        temperature: rule('above', 80, 80, 90),
        vibration: rule('above', 4, 7, 5),
        pressure: rule('below', 5, 10, 12),
      },
    });
    expect(problemsOf(json)).toEqual([
      {
        path: '/default/temperature',
        message: '"above" thresholds must rise: medium < high < critical (got 80, 80, 90)',
      },
      {
        path: '/default/vibration',
        message: '"above" thresholds must rise: medium < high < critical (got 4, 7, 5)',
      },
      {
        path: '/default/pressure',
        message: '"below" thresholds must fall: medium > high > critical (got 5, 10, 12)',
      },
    ]);
  });

  it('names unknown keys, wrong types and missing metrics together', () => {
    const json = JSON.stringify({
      default: {
        temperature: { ...rule('sideways', 75, '80', 90), critcal: 95 },
        vibration: rule('above', 4, 5, 7),
      },
      byEquipmentTypes: {},
    });
    expect(problemsOf(json)).toEqual(
      expect.arrayContaining([
        { path: '/default/temperature/direction', message: 'Expected "above" or "below"' },
        { path: '/default/temperature/high', message: 'Expected a finite number' },
        { path: '/default/temperature/critcal', message: 'Unknown key' },
        { path: '/default/pressure', message: 'Required' },
        { path: '/byEquipmentTypes', message: 'Unknown key' },
      ]),
    );
    expect(problemsOf(json)).toHaveLength(5);
  });

  it('refuses an override that breaks monotonicity once the defaults are filled in', () => {
    const json = JSON.stringify({ byEquipmentType: { pump: { pressure: { high: 13 } } } });
    expect(problemsOf(json)).toEqual([
      {
        path: '/byEquipmentType/pump/pressure',
        message:
          'With the defaults filled in, "below" thresholds must fall: medium > high > critical (got 12, 13, 5)',
      },
    ]);
  });

  it('refuses a clear threshold that is not strictly on the normal side of medium', () => {
    expect(
      problemsOf(
        JSON.stringify({
          default: { ...defaultJson, temperature: rule('above', 75, 80, 90, 75) },
          byEquipmentType: { pump: { pressure: { clear: 11 } } },
        }),
      ),
    ).toEqual([
      {
        path: '/default/temperature/clear',
        message: 'The clear threshold must be on the normal side of medium: below 75 (got 75)',
      },
      {
        path: '/byEquipmentType/pump/pressure',
        message:
          'With the defaults filled in, The clear threshold must be on the normal side of medium: above 12 (got 11)',
      },
    ]);
  });

  it('refuses overrides of direction, unknown metrics and unknown thresholds', () => {
    const json = JSON.stringify({
      byEquipmentType: {
        pump: { pressure: { direction: 'above' }, humidity: { high: 1 }, vibration: { severe: 9 } },
      },
    });
    expect(problemsOf(json)).toEqual(
      expect.arrayContaining([
        { path: '/byEquipmentType/pump/pressure/direction', message: 'Unknown key' },
        { path: '/byEquipmentType/pump/humidity', message: 'Unknown key' },
        { path: '/byEquipmentType/pump/vibration/severe', message: 'Unknown key' },
      ]),
    );
  });

  it('refuses equipment types that collide, are blank or cannot be keys', () => {
    expect(problemsOf(JSON.stringify({ byEquipmentType: { Pump: {}, ' pump': {} } }))).toEqual([
      {
        path: '/byEquipmentType/ pump',
        message: 'Same equipment type as "Pump" (types ignore case and surrounding spaces)',
      },
    ]);
    expect(problemsOf(JSON.stringify({ byEquipmentType: { '  ': {} } }))).toEqual([
      { path: '/byEquipmentType/  ', message: 'Expected an equipment type of 1 to 50 characters' },
    ]);
    expect(problemsOf('{"byEquipmentType": {"__proto__": {"pressure": {"high": 11}}}}')).toEqual([
      { path: '/byEquipmentType/__proto__', message: 'Not a usable equipment type' },
    ]);
    expect(problemsOf('{"byEquipmentType": []}')).toEqual([
      { path: '/byEquipmentType', message: 'Expected an object keyed by equipment type' },
    ]);
  });

  it('escapes JSON pointer tokens in problem paths', () => {
    expect(problemsOf(JSON.stringify({ byEquipmentType: { 'a/b~c': { x: {} } } }))).toEqual([
      { path: '/byEquipmentType/a~1b~0c/x', message: 'Unknown key' },
    ]);
  });

  it('is an Error whose message lists every problem', () => {
    let caught: unknown;
    try {
      parseSeverityRules('{"default": 1, "extra": true}');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toBe(
      'Invalid severity rules: /default: Expected an object; /extra: Unknown key',
    );
  });
});

describe('grading properties', () => {
  const ruleArb = fc
    .tuple(
      fc.constantFrom('above' as const, 'below' as const),
      fc.uniqueArray(fc.integer({ min: -600_000, max: 10_000_000 }), {
        minLength: 3,
        maxLength: 3,
      }),
    )
    .map(([direction, raw]) => {
      const sorted = [...raw].sort((a, b) => a - b).map((n) => n / 10_000);
      const [a, b, c] = sorted as [number, number, number];
      return direction === 'above'
        ? { direction, medium: a, high: b, critical: c }
        : { direction, medium: c, high: b, critical: a };
    });

  it('any monotonic rule parses, and a worse mean never grades lower', () => {
    fc.assert(
      fc.property(
        ruleArb,
        fc.double({ min: -100, max: 1100, noNaN: true }),
        fc.double({ min: -100, max: 1100, noNaN: true }),
        (metricRule, x, y) => {
          const rules = parseSeverityRules(
            JSON.stringify({ default: { ...defaultJson, temperature: metricRule } }),
          );
          const resolved = rulesFor(rules);
          const [lo, hi] = x <= y ? [x, y] : [y, x];
          const worse = metricRule.direction === 'above' ? hi : lo;
          const better = metricRule.direction === 'above' ? lo : hi;
          const rank = (mean: number) =>
            severityRank(gradeWindow({ temperature: mean }, resolved).severity);
          expect(rank(worse)).toBeGreaterThanOrEqual(rank(better));
          // Exactly on a threshold never reaches that severity.
          for (const severity of severities) {
            expect(rank(metricRule[severity])).toBeLessThan(severityRank(severity));
          }
        },
      ),
    );
  });

  it('the window severity is the worst breach, and each breach crosses its threshold', () => {
    const mean = fc.double({ min: -100, max: 1100, noNaN: true });
    fc.assert(
      fc.property(mean, mean, mean, (temperature, vibration, pressure) => {
        const { severity, breaches } = gradeWindow({ temperature, vibration, pressure }, defaults);
        expect(severityRank(severity)).toBe(
          Math.max(0, ...breaches.map((b) => severityRank(b.severity))),
        );
        for (const breach of breaches) {
          expect(
            breach.comparison === '>'
              ? breach.mean > breach.threshold
              : breach.mean < breach.threshold,
          ).toBe(true);
          expect(breach.threshold).toBe(defaults[breach.metric][breach.severity]);
        }
      }),
    );
  });
});
