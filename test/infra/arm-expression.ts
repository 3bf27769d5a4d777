// ARM expressions: `fn(arg, …)`, 'strings' (with '' for a quote), numbers, `.property` and `[index]`.
export type ExpressionNode =
  | { kind: 'literal'; value: string | number }
  | { kind: 'call'; name: string; args: ExpressionNode[] }
  | { kind: 'member'; object: ExpressionNode; property: { kind: 'name'; name: string } | { kind: 'index'; node: ExpressionNode } };

export function parseExpression(source: string): ExpressionNode {
  let position = 0;
  const fail = (what: string): never => {
    throw new Error(`ARM expression ${JSON.stringify(source)}: ${what} at ${position}`);
  };
  const skipSpace = () => {
    while (source[position] === ' ') position++;
  };
  const expect = (char: string) => {
    skipSpace();
    if (source[position] !== char) fail(`expected '${char}'`);
    position++;
  };
  const identifier = (): string => {
    skipSpace();
    const match = /^[A-Za-z_$][\w$#]*/.exec(source.slice(position)) ?? fail('expected a name');
    position += match[0].length;
    return match[0];
  };
  const primary = (): ExpressionNode => {
    skipSpace();
    const char = source[position];
    if (char === "'") {
      let text = '';
      position++;
      for (;;) {
        if (position >= source.length) fail('unterminated string');
        if (source[position] === "'") {
          if (source[position + 1] === "'") {
            text += "'";
            position += 2;
            continue;
          }
          position++;
          return { kind: 'literal', value: text };
        }
        text += source[position++];
      }
    }
    const number = /^-?\d+/.exec(source.slice(position));
    if (number) {
      position += number[0].length;
      return { kind: 'literal', value: Number(number[0]) };
    }
    const name = identifier();
    expect('(');
    const args: ExpressionNode[] = [];
    skipSpace();
    if (source[position] !== ')') {
      for (;;) {
        args.push(postfix());
        skipSpace();
        if (source[position] === ',') {
          position++;
          continue;
        }
        break;
      }
    }
    expect(')');
    return { kind: 'call', name, args };
  };
  const postfix = (): ExpressionNode => {
    let node = primary();
    for (;;) {
      skipSpace();
      if (source[position] === '.') {
        position++;
        node = { kind: 'member', object: node, property: { kind: 'name', name: identifier() } };
      } else if (source[position] === '[') {
        position++;
        const index = postfix();
        expect(']');
        node = { kind: 'member', object: node, property: { kind: 'index', node: index } };
      } else {
        return node;
      }
    }
  };
  const node = postfix();
  skipSpace();
  if (position !== source.length) fail('unexpected text');
  return node;
}
