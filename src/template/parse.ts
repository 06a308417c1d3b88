/**
 * The parser of Go's text/template (Go 1.19): items from the lexer → a tree per template name.
 * It follows Go's grammar and its checks, so a template Go rejects is rejected here with the same message.
 */
import { KEYWORD_ITEMS, Lexer, TEMPLATE_NAME, TemplateError, goQuote, type Item, type ItemType } from "./lex.js";
import { parseNumber, unquote } from "./literals.js";
import { TEMPLATE_LIMITS } from "./limits.js";

interface At {
  pos: number;
}
export interface ListNode extends At {
  kind: "list";
  nodes: Node[];
}
export interface ControlNode extends At {
  kind: "if" | "range" | "with";
  pipe: PipeNode;
  list: ListNode;
  elseList?: ListNode;
}
export interface TemplateNode extends At {
  kind: "template";
  name: string;
  pipe?: PipeNode;
}
export type Node =
  | ListNode
  | ControlNode
  | TemplateNode
  | (At & { kind: "text"; text: string })
  | (At & { kind: "action"; pipe: PipeNode })
  | (At & { kind: "break" | "continue" | "end" | "else" });
export interface PipeNode extends At {
  kind: "pipe";
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode extends At {
  kind: "command";
  args: Operand[];
}
export interface VariableNode extends At {
  kind: "variable";
  ident: string[];
}
export interface FieldNode extends At {
  kind: "field";
  ident: string[];
}
export interface ChainNode extends At {
  kind: "chain";
  node: Operand;
  fields: string[];
}
export interface NumberNode extends At {
  kind: "number";
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  value: number;
}
export type Operand =
  | PipeNode
  | VariableNode
  | FieldNode
  | ChainNode
  | NumberNode
  | (At & { kind: "identifier"; name: string })
  | (At & { kind: "string"; quoted: string; text: string })
  | (At & { kind: "bool"; value: boolean })
  | (At & { kind: "dot" | "nil" });

/** The parsed templates by name: the source itself under TEMPLATE_NAME, plus each `{{define}}` and `{{block}}`. */
export type Templates = Map<string, ListNode>;

export function parseTemplate(source: string, functionNames: ReadonlySet<string>): Templates {
  // A function map may take the names break and continue, which then stop being keywords.
  const keywordOK = (word: string) => !((word === "break" || word === "continue") && functionNames.has(word));
  return new Parser(new Lexer(source, keywordOK).run(), functionNames).parse();
}

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

class Parser {
  private i = 0;
  /** The furthest item read: Go reports a parse error at the line of the last item its lexer produced. */
  private furthest = 0;
  private vars = ["$"];
  private rangeDepth = 0;
  private actionLine = 0;
  /** Open {{if}}, {{range}}, {{with}} and parentheses: each is a level of recursion here and when executed. */
  private nesting = 0;
  private readonly templates: Templates = new Map();

  constructor(
    private readonly items: Item[],
    private readonly functions: ReadonlySet<string>,
  ) {}

  parse(): Templates {
    const root: ListNode = { kind: "list", pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== "eof") {
      if (this.peek().type === "leftDelim") {
        const at = this.i;
        this.next();
        if (this.nextNonSpace().type === "define") {
          this.parseDefinition();
          continue;
        }
        this.i = at;
      }
      const node = this.textOrAction();
      if (node.kind === "end" || node.kind === "else") this.errorf(`unexpected ${nodeString(node)}`);
      root.nodes.push(node);
    }
    this.add(TEMPLATE_NAME, root);
    return this.templates;
  }

  private next(): Item {
    const item = this.items[Math.min(this.i++, this.items.length - 1)]!;
    this.furthest = Math.max(this.furthest, this.i - 1);
    return item;
  }
  private peek(): Item {
    const item = this.next();
    this.i--;
    return item;
  }
  private nextNonSpace(): Item {
    let item = this.next();
    while (item.type === "space") item = this.next();
    return item;
  }
  /** Like Go's, leaves the spaces before the item consumed. */
  private peekNonSpace(): Item {
    const item = this.nextNonSpace();
    this.i--;
    return item;
  }
  private expect(type: ItemType, context: string): Item {
    const item = this.nextNonSpace();
    if (item.type !== type) this.unexpected(item, context);
    return item;
  }

  private errorf(message: string): never {
    const line = this.items[Math.min(this.furthest, this.items.length - 1)]!.line;
    throw new TemplateError(`template: ${TEMPLATE_NAME}:${line}: ${message}`);
  }
  private unexpected(item: Item, context: string): never {
    if (item.type !== "error") this.errorf(`unexpected ${itemString(item)} in ${context}`);
    let extra = "";
    if (this.actionLine !== 0 && this.actionLine !== item.line) {
      extra = ` in action started at ${TEMPLATE_NAME}:${this.actionLine}`;
      if (item.val.endsWith(" action")) extra = extra.slice(" in action".length);
    }
    this.errorf(item.val + extra);
  }

  /** A `{{define}}` or `{{block}}` body: its own variables, outside any range. */
  private subTemplate(context: string): ListNode {
    const [vars, rangeDepth] = [this.vars, this.rangeDepth];
    [this.vars, this.rangeDepth] = [["$"], 0];
    const [list, end] = this.itemList();
    if (end.kind !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    [this.vars, this.rangeDepth] = [vars, rangeDepth];
    return list;
  }

  private parseDefinition(): void {
    const context = "define clause";
    const name = this.nextNonSpace();
    if (name.type !== "string" && name.type !== "rawString") this.unexpected(name, context);
    this.expect("rightDelim", context);
    this.add(this.unquote(name.val), this.subTemplate(context));
  }

  private add(name: string, list: ListNode): void {
    const existing = this.templates.get(name);
    if (existing && !isEmptyTree(existing)) {
      if (!isEmptyTree(list)) this.errorf(`template: multiple definition of template ${goQuote(name)}`);
      return;
    }
    this.templates.set(name, list);
  }

  private itemList(): [ListNode, Node] {
    const list: ListNode = { kind: "list", pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== "eof") {
      const node = this.textOrAction();
      if (node.kind === "end" || node.kind === "else") return [list, node];
      list.nodes.push(node);
    }
    this.errorf("unexpected EOF");
  }

  private textOrAction(): Node {
    const item = this.nextNonSpace();
    if (item.type === "text") return { kind: "text", pos: item.pos, text: item.val };
    if (item.type !== "leftDelim") this.unexpected(item, "input");
    this.actionLine = item.line;
    try {
      return this.action();
    } finally {
      this.actionLine = 0;
    }
  }

  private action(): Node {
    const item = this.nextNonSpace();
    switch (item.type) {
      case "block":
        return this.templateControl("block clause");
      case "break":
      case "continue":
        return this.jumpControl(item.type);
      case "else":
        return this.elseControl();
      case "end":
        return { kind: "end", pos: this.expect("rightDelim", "end").pos };
      case "if":
      case "range":
      case "with":
        return this.parseControl(item.type);
      case "template":
        return this.templateControl("template clause");
    }
    this.i--;
    return { kind: "action", pos: this.peek().pos, pipe: this.pipeline("command", "rightDelim") };
  }

  private jumpControl(kind: "break" | "continue"): Node {
    const at = this.items[this.i - 1]!.pos;
    const item = this.nextNonSpace();
    if (item.type !== "rightDelim") this.unexpected(item, `{{${kind}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kind}}} outside {{range}}`);
    return { kind, pos: at };
  }

  /** `{{else if …}}` leaves the `if` pending, so that the else branch holds one nested if needing no second {{end}}. */
  private elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.type === "if") return { kind: "else", pos: peek.pos };
    return { kind: "else", pos: this.expect("rightDelim", "else").pos };
  }

  private parseControl(kind: "if" | "range" | "with"): ControlNode {
    const varsBefore = this.vars.length;
    this.enter(`more than ${TEMPLATE_LIMITS.nesting} nested actions`);
    try {
      const pipe = this.pipeline(kind, "rightDelim");
      if (kind === "range") this.rangeDepth++;
      const [list, firstNext] = this.itemList();
      let next = firstNext;
      if (kind === "range") this.rangeDepth--;
      let elseList: ListNode | undefined;
      if (next.kind === "else" && kind === "if" && this.peek().type === "if") {
        this.next();
        elseList = { kind: "list", pos: next.pos, nodes: [this.parseControl("if")] };
      } else if (next.kind === "else") {
        [elseList, next] = this.itemList();
        if (next.kind !== "end") this.errorf(`expected end; found ${nodeString(next)}`);
      }
      return { kind, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = varsBefore;
      this.nesting--;
    }
  }

  private enter(message: string): void {
    if (++this.nesting > TEMPLATE_LIMITS.nesting) this.errorf(message);
  }

  /** `{{template "name" pipeline}}`, or `{{block "name" pipeline}}body{{end}}` which also defines "name". */
  private templateControl(context: "template clause" | "block clause"): TemplateNode {
    const item = this.nextNonSpace();
    if (item.type !== "string" && item.type !== "rawString") this.unexpected(item, context);
    const name = this.unquote(item.val);
    let pipe: PipeNode | undefined;
    if (context === "block clause" || this.nextNonSpace().type !== "rightDelim") {
      if (context === "template clause") this.i--;
      pipe = this.pipeline(context, "rightDelim");
    }
    if (context === "block clause") this.add(name, this.subTemplate(context));
    return { kind: "template", pos: item.pos, name, pipe };
  }

  private pipeline(context: string, end: ItemType): PipeNode {
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

  private unquote(quoted: string): string {
    return unquote(quoted) ?? this.errorf("invalid syntax");
  }
}

function itemString(item: Item): string {
  if (item.type === "eof") return "EOF";
  if (KEYWORD_ITEMS.has(item.type)) return `<${item.val}>`;
  const chars = [...item.val];
  return chars.length > 10 ? `${goQuote(chars.slice(0, 10).join(""))}...` : goQuote(item.val);
}

/** Whether a template holds nothing but space: such a one may be redefined. */
function isEmptyTree(list: ListNode): boolean {
  return list.nodes.every((n) => n.kind === "text" && n.text.trim() === "");
}

/** A node written back as template source, as Go shows it in an error's `at <…>`. */
export function nodeString(n: Node | Operand | CommandNode): string {
  const parens = (o: Operand) => (o.kind === "pipe" ? `(${nodeString(o)})` : nodeString(o));
  switch (n.kind) {
    case "text":
      return n.text;
    case "action":
      return `{{${nodeString(n.pipe)}}}`;
    case "list":
      return n.nodes.map(nodeString).join("");
    case "if":
    case "range":
    case "with": {
      const otherwise = n.elseList ? `{{else}}${nodeString(n.elseList)}` : "";
      return `{{${n.kind} ${nodeString(n.pipe)}}}${nodeString(n.list)}${otherwise}{{end}}`;
    }
    case "break":
    case "continue":
    case "end":
    case "else":
      return `{{${n.kind}}}`;
    case "template":
      return `{{template ${goQuote(n.name)}${n.pipe ? ` ${nodeString(n.pipe)}` : ""}}}`;
    case "pipe": {
      const decl = n.decl.length > 0 ? `${n.decl.map(nodeString).join(", ")} := ` : "";
      return decl + n.cmds.map(nodeString).join(" | ");
    }
    case "command":
      return n.args.map(parens).join(" ");
    case "variable":
      return n.ident.join(".");
    case "field":
      return n.ident.map((f) => `.${f}`).join("");
    case "chain":
      return parens(n.node) + n.fields.map((f) => `.${f}`).join("");
    case "identifier":
      return n.name;
    case "number":
      return n.text;
    case "string":
      return n.quoted;
    case "bool":
      return String(n.value);
    case "dot":
      return ".";
    case "nil":
      return "nil";
  }
}
