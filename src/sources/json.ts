// JSON.parse with the line and column of the first syntax error: Node's messages name a position
// only sometimes (and never a line), and a person fixing a model.json needs the line. The parse is
// JSON.parse; only when it fails does a small scanner walk the text to find where.

export type JsonParsed = { ok: true; value: unknown } | { ok: false; line: number; column: number; reason: string };

/** Parses JSON text; a byte order mark at its start (.NET writers add one) is not an error. */
export function parseJson(raw: string): JsonParsed {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    const found = new JsonScanner(text).firstError();
    const offset = found?.offset ?? text.length;
    const { line, column } = lineAndColumn(text, offset);
    return { ok: false, line, column, reason: found?.reason ?? (error instanceof Error ? error.message : 'not valid JSON') };
  }
}

export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class SyntaxProblem extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const LITERALS = ['true', 'false', 'null'];
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/** A recursive-descent walk of RFC 8259 JSON that stops at the first thing that is not JSON. */
class JsonScanner {
  private at = 0;

  constructor(private readonly text: string) {}

  firstError(): SyntaxProblem | undefined {
    try {
      this.value();
      this.skipBlank();
      if (this.at < this.text.length) throw new SyntaxProblem(this.at, 'unexpected text after the end of the JSON value');
      return undefined;
    } catch (error) {
      if (error instanceof SyntaxProblem) return error;
      throw error;
    }
  }

  private value(): void {
    this.skipBlank();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === undefined) throw new SyntaxProblem(this.at, 'the JSON ends where a value should be');
    for (const literal of LITERALS) if (this.text.startsWith(literal, this.at)) return void (this.at += literal.length);
    NUMBER.lastIndex = this.at;
    if (NUMBER.exec(this.text)) return void (this.at = NUMBER.lastIndex);
    throw new SyntaxProblem(this.at, `unexpected ${JSON.stringify(c)} where a value should be`);
  }

  private object(): void {
    this.at++;
    this.skipBlank();
    if (this.text[this.at] === '}') return void this.at++;
    for (;;) {
      this.skipBlank();
      if (this.text[this.at] !== '"') throw new SyntaxProblem(this.at, 'expected a property name in double quotes');
      this.string();
      this.expect(':', "expected ':' after the property name");
      this.value();
      this.skipBlank();
      if (this.text[this.at] === '}') return void this.at++;
      this.expect(',', "expected ',' or '}' after the property value");
    }
  }

  private array(): void {
    this.at++;
    this.skipBlank();
    if (this.text[this.at] === ']') return void this.at++;
    for (;;) {
      this.value();
      this.skipBlank();
      if (this.text[this.at] === ']') return void this.at++;
      this.expect(',', "expected ',' or ']' after the array element");
    }
  }

  private string(): void {
    const start = this.at++;
    for (; this.at < this.text.length; this.at++) {
      const c = this.text.charCodeAt(this.at);
      if (c === 0x22) return void this.at++;
      if (c < 0x20) throw new SyntaxProblem(this.at, 'a control character (such as a line break) inside a string');
      if (c === 0x5c) {
        const next = this.text[this.at + 1] ?? '';
        if (next === 'u' ? !/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.at + 2, this.at + 6)) : !'"\\/bfnrt'.includes(next) || next === '') {
          throw new SyntaxProblem(this.at, 'an invalid escape in a string');
        }
        this.at += next === 'u' ? 5 : 1;
      }
    }
    throw new SyntaxProblem(start, 'a string is not closed');
  }

  private expect(char: string, reason: string): void {
    this.skipBlank();
    if (this.text[this.at] !== char) throw new SyntaxProblem(this.at, reason);
    this.at++;
  }

  private skipBlank(): void {
    while (this.at < this.text.length && ' \t\n\r'.includes(this.text[this.at]!)) this.at++;
  }
}
