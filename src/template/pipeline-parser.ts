/** Pipelines, commands and their operands: the inside of every action, shared by the control structures. */
import { goQuote, type Item, type ItemType } from "./lex.js";
import { ItemReader } from "./item-reader.js";
import { TEMPLATE_LIMITS } from "./limits.js";
import { parseNumber, unquote } from "./literals.js";
import { nodeString, type CommandNode, type NumberNode, type Operand, type PipeNode } from "./syntax-tree.js";

const OPERAND_START = new Set<ItemType>([
  "bool",
  "charConstant",
  "complex",
  "dot",
  "field",
  "identifier",
  "number",
  "nil",
  "rawString",
  "string",
  "variable",
  "leftParen",
]);
const LITERALS = new Set(["bool", "dot", "nil", "number", "string"]);

export class PipelineParser extends ItemReader {
  /** The variables in scope, innermost last. */
  protected vars = ["$"];
  /** Open {{if}}, {{range}}, {{with}} and parentheses: each is a level of recursion here and when executed. */
  protected nesting = 0;

  constructor(
    items: Item[],
    private readonly functions: ReadonlySet<string>,
  ) {
    super(items);
  }

  protected enter(message: string): void {
    if (++this.nesting > TEMPLATE_LIMITS.nesting) this.errorf(message);
  }

  protected pipeline(context: string, end: ItemType): PipeNode {
    const pipe: PipeNode = { kind: "pipe", pos: this.peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    this.declarations(pipe, context);
    for (;;) {
      const item = this.nextNonSpace();
      if (item.type === end) break;
      if (!OPERAND_START.has(item.type)) this.unexpected(item, context);
      this.i--;
      pipe.cmds.push(this.command());
    }
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((cmd, i) => {
      if (LITERALS.has(cmd.args[0]!.kind)) this.errorf(`non executable command in pipeline stage ${i + 2}`);
    });
    return pipe;
  }

  /** `$x :=`, `$x =`, or in a range `$i, $v :=`; anything else puts the variable back as an operand. */
  private declarations(pipe: PipeNode, context: string): void {
    for (;;) {
      const variable = this.peekNonSpace();
      if (variable.type !== "variable") return;
      const at = this.i;
      this.next();
      const next = this.peekNonSpace();
      if (next.type === "assign" || next.type === "declare") {
        pipe.isAssign = next.type === "assign";
        this.nextNonSpace();
        this.declare(pipe, variable);
        return;
      }
      if (next.type !== "char" || next.val !== ",") {
        this.i = at;
        return;
      }
      this.nextNonSpace();
      this.declare(pipe, variable);
      if (context !== "range" || pipe.decl.length >= 2) this.errorf(`too many declarations in ${context}`);
      const after = this.peekNonSpace().type;
      if (after !== "variable" && after !== "rightDelim" && after !== "rightParen") this.errorf("range can only initialize variables");
    }
  }
  private declare(pipe: PipeNode, item: Item): void {
    pipe.decl.push({ kind: "variable", pos: item.pos, ident: item.val.split(".") });
    this.vars.push(item.val);
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: "command", pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const item = this.next();
      if (item.type === "space") continue;
      if (item.type === "rightDelim" || item.type === "rightParen") this.i--;
      else if (item.type !== "pipe") this.unexpected(item, "operand");
      break;
    }
    if (cmd.args.length === 0) this.errorf("empty command");
    return cmd;
  }

  /** A term and the fields after it; Go places the result at the first of those fields. */
  private operand(): Operand | undefined {
    const node = this.term();
    if (!node || this.peek().type !== "field") return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === "field") fields.push(this.next().val.slice(1));
    if (node.kind === "field" || node.kind === "variable") return { kind: node.kind, pos, ident: [...node.ident, ...fields] };
    if (LITERALS.has(node.kind)) this.errorf(`unexpected . after term ${goQuote(nodeString(node))}`);
    return { kind: "chain", pos, node, fields };
  }

  private term(): Operand | undefined {
    const item = this.nextNonSpace();
    const pos = item.pos;
    switch (item.type) {
      case "identifier":
        if (!this.functions.has(item.val)) this.errorf(`function ${goQuote(item.val)} not defined`);
        return { kind: "identifier", pos, name: item.val };
      case "dot":
      case "nil":
        return { kind: item.type, pos };
      case "variable":
        if (!this.vars.includes(item.val)) this.errorf(`undefined variable ${goQuote(item.val)}`);
        return { kind: "variable", pos, ident: [item.val] };
      case "field":
        return { kind: "field", pos, ident: [item.val.slice(1)] };
      case "bool":
        return { kind: "bool", pos, value: item.val === "true" };
      case "charConstant":
      case "complex":
      case "number":
        return this.number(item);
      case "leftParen": {
        // Go's own wording for its limit on parentheses.
        this.enter("max expression depth exceeded");
        const pipe = this.pipeline("parenthesized pipeline", "rightParen");
        this.nesting--;
        return pipe;
      }
      case "string":
      case "rawString":
        return { kind: "string", pos, quoted: item.val, text: this.unquote(item.val) };
    }
    this.i--;
    return undefined;
  }

  private number(item: Item): NumberNode {
    const parsed = parseNumber(item.val, item.type);
    if (typeof parsed === "string") this.errorf(parsed);
    return { kind: "number", pos: item.pos, text: item.val, ...parsed };
  }

  protected unquote(quoted: string): string {
    return unquote(quoted) ?? this.errorf("invalid syntax");
  }
}
