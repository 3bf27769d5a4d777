/**
 * NCRONTAB with six fields — `{second} {minute} {hour} {day} {month} {day-of-week}` — as the Azure
 * Functions timer trigger reads it, evaluated in UTC. Like NCrontab, a day must match both the
 * day-of-month and the day-of-week fields.
 */
export interface CronSchedule {
  readonly expression: string;
  next(after: Date): Date;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  },
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

export class CronSyntaxError extends Error {
  constructor(expression: string, reason: string) {
    super(`'${expression}' is not a six-field NCRONTAB expression: ${reason}`);
    this.name = 'CronSyntaxError';
  }
}

export function parseNcrontab(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw new CronSyntaxError(expression, `expected 6 fields ({second} {minute} {hour} {day} {month} {day-of-week}), found ${parts.length}`);
  }
  const sets = parts.map((part, index) => parseField(expression, part, FIELDS[index]!));
  const [seconds, minutes, hours, days, months, weekdays] = sets as [
    Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>,
  ];
  if (weekdays.has(7)) weekdays.add(0);
  return { expression, next: (after) => nextOccurrence(after, { seconds, minutes, hours, days, months, weekdays }) };
}

function parseField(expression: string, text: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [rangeText, stepText] = item.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new CronSyntaxError(expression, `bad step '${item}' in the ${spec.name} field`);
    let low: number;
    let high: number;
    if (rangeText === '*') {
      low = spec.min;
      high = spec.name === 'day-of-week' ? 6 : spec.max;
    } else {
      const [from, to] = rangeText.split('-') as [string, string | undefined];
      low = parseValue(expression, from, spec);
      high = to === undefined ? (stepText === undefined ? low : spec.max) : parseValue(expression, to, spec);
    }
    if (low > high) throw new CronSyntaxError(expression, `range '${item}' runs backwards in the ${spec.name} field`);
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

function parseValue(expression: string, text: string, spec: FieldSpec): number {
  const named = spec.names?.indexOf(text.toLowerCase().slice(0, 3)) ?? -1;
  if (named >= 0 && /^[a-z]+$/i.test(text)) return spec.name === 'month' ? named + 1 : named;
  if (!/^\d+$/.test(text)) throw new CronSyntaxError(expression, `'${text}' is not a value of the ${spec.name} field`);
  const value = Number(text);
  if (value < spec.min || value > spec.max) {
    throw new CronSyntaxError(expression, `${value} is outside ${spec.min}-${spec.max} in the ${spec.name} field`);
  }
  return value;
}

interface Sets {
  seconds: Set<number>;
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
}

const SEARCH_LIMIT_IN_MS = 5 * 366 * 24 * 3600 * 1000;

function nextOccurrence(after: Date, sets: Sets): Date {
  const limit = after.getTime() + SEARCH_LIMIT_IN_MS;
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  while (t.getTime() <= limit) {
    if (!sets.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!sets.days.has(t.getUTCDate()) || !sets.weekdays.has(t.getUTCDay())) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!sets.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!sets.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else if (!sets.seconds.has(t.getUTCSeconds())) {
      t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
    } else {
      return t;
    }
  }
  throw new Error(`No occurrence within five years of ${after.toISOString()}`);
}
